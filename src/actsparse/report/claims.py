"""The claims ledger: every numeric claim of the seeds, our value read from a stage table,
and a verdict by a rule written down before any run.

A claim's `ours` is a query in a deliberately small language (no code in YAML):

    table:   the stage table to read (tables/<table>.parquet)
    where:   {column: value}  equality; a list means "one of"; a mapping of
             comparisons ({">=": 0.5, "<": 1}) bounds the column
    select:  "max COL" | "min COL"  the one row with the extreme COL; without it,
             exactly one row must match (an ambiguous query is an error, not a guess)
    value:   the column read from that row
    per:     optional column of the same row to divide `value` by (a share)
    transform: optional expm1 (nats -> relative perplexity) | complement (1 - value)
    minus:   optional second query whose value is subtracted (a difference of two models)
    over:    optional second query whose value divides (a ratio of two models)
    agg:     optional min | max | mean of `value` over every matching row, instead of one row
    order_by: optional column: return every matching row's value, in that order (for
             the `increasing` rule)

Verdict rules (`verdict.rule`): within_abs / within_rel / within_rel_gain (`tol`; the gain
rule compares speedup - 1, so no speedup near 1 passes for a modest claimed gain),
at_least / at_most (`bound`) and within_range (`lo` <= ours < `hi`) give "reproduced" or
"not reproduced"; greater_than / less_than (another query `than`, times `factor`) and
increasing give "shape holds" or "not reproduced". A claim whose table the run did not
produce, or produced empty (a stage that could not run, its reason in the table), is
"not run"; one whose query matches nothing is "no data".

Every claim says which direction "reproduced" means and why (`direction`: two-sided,
at-most, at-least or order). A fraction below 0.2 is judged with a relative tolerance (an
absolute 0.05 would be +-80% of 6%). A claim `derived_from` another (a speedup that is 1 /
a fraction) takes that claim's verdict, so one fact never gets two. `context` queries are
shown beside our value (the unmatched delta_ce beside the matched one, a speculative
speedup's speed against plain decoding), never judged.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "claims.schema.yaml"
SEEDS = ("000_498c5e929afa3916.txt", "002_4a21bcc8dd5abec4.txt")
VERDICTS = ("reproduced", "shape holds", "not reproduced", "no data", "not run")
_OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "matches": lambda col, pattern: col.astype(str).str.contains(pattern, regex=True),
}


class ClaimError(ValueError):
    """A claims file or a query that cannot be read as written."""


class NotRun(LookupError):
    """The query's table was not produced by this run."""


class NoData(LookupError):
    """The query matched no row."""


def load_claims(path: str | Path, schema_path: str | Path = SCHEMA_PATH) -> list[dict[str, Any]]:
    """The claims, checked against the claims schema; errors name the claim and the key."""
    with open(path) as f:
        doc = yaml.safe_load(f)
    with open(schema_path) as f:
        schema = yaml.safe_load(f)
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(e.path)
    )
    if errors:
        lines = [f"{'.'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}" for e in errors]
        raise ClaimError(f"invalid claims file {path}:\n  " + "\n  ".join(lines))
    claims = doc["claims"]
    seen: set[str] = set()
    for c in claims:
        _check_claim(c, seen)
        seen.add(c["id"])
    ids = [c["id"] for c in claims]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ClaimError(f"claim ids used twice in {path}: {dupes}")
    return claims


def _check_claim(c: Mapping[str, Any], earlier: set[str]) -> None:
    """Rules of a claim that the schema cannot state."""
    rule = c["verdict"]["rule"]
    if rule.startswith("within_") and rule != "within_range" and "seed_value" not in c:
        raise ClaimError(f"claim {c['id']}: rule {rule} needs a seed_value")
    seed = c.get("seed_value")
    if rule == "within_abs" and c.get("unit") == "%" and seed and 0 < abs(seed) < 0.2:
        raise ClaimError(
            f"claim {c['id']}: a fraction below 0.2 ({seed}) needs a relative tolerance "
            f"(within_rel), not within_abs"
        )
    rules = [c["verdict"], c.get("pretrained", {}).get("verdict", {})]
    if any("tol_plus" in r and r["rule"] != "within_abs" for r in rules):
        raise ClaimError(f"claim {c['id']}: tol_plus widens only a within_abs tolerance")
    if "derived_from" in c and c["derived_from"] not in earlier:
        raise ClaimError(
            f"claim {c['id']}: derived_from {c['derived_from']!r} must name an earlier claim"
        )


def _filter(df: pd.DataFrame, where: Mapping[str, Any]) -> pd.DataFrame:
    for col, cond in where.items():
        if col not in df.columns:
            raise ClaimError(f"where: no column {col!r}; columns: {sorted(df.columns)}")
        if isinstance(cond, Mapping):
            for op, x in cond.items():
                if op not in _OPS:
                    raise ClaimError(f"where {col}: unknown comparison {op!r}; use {list(_OPS)}")
                df = df[_OPS[op](df[col], x)]
        elif isinstance(cond, list):
            df = df[df[col].isin(cond)]
        else:
            df = df[df[col] == cond]
    return df


def _column(df: pd.DataFrame, col: str, key: str) -> pd.Series:
    if col not in df.columns:
        raise ClaimError(f"{key}: no column {col!r}; columns: {sorted(df.columns)}")
    return df[col]


_TRANSFORMS = {"expm1": lambda v: v.map(math.expm1), "complement": lambda v: 1.0 - v}


def query(tables: Mapping[str, pd.DataFrame], q: Mapping[str, Any]) -> float | list[float]:
    """Our value for a query (see the module docstring for the language)."""
    if q["table"] not in tables:
        raise NotRun(f"table {q['table']} was not produced by this run")
    if tables[q["table"]].empty:
        why = tables[q["table"]].attrs.get("status", "the stage wrote no rows")
        raise NotRun(f"table {q['table']} is empty: {why}")
    df = _filter(tables[q["table"]], q.get("where", {}))
    if df.empty:
        raise NoData(f"no row of {q['table']} matches {q.get('where', {})}")
    values = _column(df, q["value"], "value").astype(float)
    if "per" in q:
        values = values / _column(df, q["per"], "per").astype(float)
    if "transform" in q:
        values = _TRANSFORMS[q["transform"]](values)
    if "order_by" in q:
        order = _column(df, q["order_by"], "order_by")
        return [float(v) for v in values.loc[order.sort_values().index]]
    if "agg" in q:
        one = float(getattr(values, q["agg"])())
    elif "select" in q:
        how, col = q["select"].split()
        key = _column(df, col, "select").astype(float)
        one = float(values.loc[key.idxmax() if how == "max" else key.idxmin()])
    elif len(df) != 1:
        raise ClaimError(
            f"query on {q['table']} matches {len(df)} rows; narrow `where`, or use select/agg"
        )
    else:
        one = float(values.iloc[0])
    if "minus" in q:
        one -= query(tables, q["minus"])
    if "over" in q:
        one /= query(tables, q["over"])
    return one


def verdict(
    claim: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]
) -> tuple[str | None, float | list[float] | None, str]:
    """(verdict, our value, a one-line reason) for one claim; (None, None, why) for one
    judged on the pretrained model alone."""
    if "ours" not in claim:
        return None, None, "no byte-model counterpart"
    return judge(claim, claim["ours"], claim["verdict"], tables)


def pretrained_verdict(
    claim: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]
) -> tuple[str | None, float | list[float] | None, str]:
    """The claim judged on the pretrained model (its `pretrained` block, the byte model's
    rule unless the block has its own); (None, None, "") for a claim without one."""
    block = claim.get("pretrained")
    if block is None:
        return None, None, ""
    return judge(claim, block["ours"], block.get("verdict", claim["verdict"]), tables)


def judge(
    claim: Mapping[str, Any],
    ours_query: Mapping[str, Any],
    rule: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
) -> tuple[str, float | list[float] | None, str]:
    try:
        ours = query(tables, ours_query)
        ref = query(tables, rule["than"]) if "than" in rule else None
        # tol_plus widens the tolerance by a measured value (a standard error)
        plus = query(tables, rule["tol_plus"]) if "tol_plus" in rule else 0.0
    except NotRun as e:
        return "not run", None, str(e)
    except NoData as e:
        return "no data", None, str(e)
    seed = claim.get("seed_value")
    kind = rule["rule"]
    if kind == "increasing":
        ok = all(b >= a for a, b in zip(ours, ours[1:], strict=False))
        return ("shape holds" if ok else "not reproduced"), ours, "non-decreasing in order"
    if isinstance(ours, list):
        raise ClaimError(f"claim {claim['id']}: order_by only goes with the increasing rule")
    if math.isnan(ours):
        return "no data", None, "our value is NaN"
    if kind in ("greater_than", "less_than"):
        bound = rule.get("factor", 1.0) * ref
        ok = ours > bound if kind == "greater_than" else ours < bound
        sign = ">" if kind == "greater_than" else "<"
        return ("shape holds" if ok else "not reproduced"), ours, f"needs {sign} {bound:.4g}"
    if kind == "within_abs":
        tol = rule["tol"] + plus
        ok, why = abs(ours - seed) <= tol, f"|ours - seed| <= {tol:.4g}"
        if "tol_plus" in rule:
            why += f" ({rule['tol']:g} + {plus:.4g} from {rule['tol_plus']['value']})"
    elif kind == "within_rel":
        ok, why = abs(ours - seed) <= rule["tol"] * abs(seed), f"within {rule['tol']:.0%} of seed"
    elif kind == "within_rel_gain":
        ok = abs(ours - seed) <= rule["tol"] * abs(seed - 1.0)
        why = f"gain within {rule['tol']:.0%} of the seed's"
    elif kind == "within_range":
        ok, why = rule["lo"] <= ours < rule["hi"], f"needs {rule['lo']:g} <= ours < {rule['hi']:g}"
    elif kind == "at_least":
        ok, why = ours >= rule["bound"], f"needs >= {rule['bound']:g}"
    else:  # at_most
        ok, why = ours <= rule["bound"], f"needs <= {rule['bound']:g}"
    return ("reproduced" if ok else "not reproduced"), ours, why


def context_text(claim: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]) -> str:
    """The claim's context values, formatted ("unmatched delta_ce +0.01; ...")."""
    parts = []
    for item in claim.get("context", []):
        try:
            value = _fmt(query(tables, item["query"]), item.get("unit", claim.get("unit", "")))
        except (NotRun, NoData):
            value = "–"
        parts.append(f"{item['label']} {value}")
    return "; ".join(parts)


def claims_rows(
    claims: list[Mapping[str, Any]], tables: Mapping[str, pd.DataFrame]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    for c in claims:
        v, ours, why = verdict(c, tables)
        pv, pours, pwhy = pretrained_verdict(c, tables)
        if "derived_from" in c:  # one fact, one verdict: the parent's
            parent = by_id[c["derived_from"]]
            v, why = parent["verdict"], f"derived from {parent['variant']}: {parent['why']}"
            if pv is not None:
                pv = parent["verdict_pretrained"]
        rows.append(
            {
                "variant": c["id"],
                "seed_file": c["seed"],
                "section": c["section"],
                "claim": c["claim"],
                "seed_value": c.get("seed_value"),
                "ours": ours if not isinstance(ours, list) else None,
                "ours_series": ours if isinstance(ours, list) else None,
                "unit": c.get("unit", ""),
                "verdict": v,
                "rule": _describe_rule(c["verdict"]),
                "why": why,
                "scale_dependent": c.get("scale_dependent", False),
                "figure": c.get("figure"),
                "source_table": (c.get("ours") or c["pretrained"]["ours"])["table"],
                "direction": c["direction"]["sense"],
                "context": context_text(c, tables),
                "ours_pretrained": pours if not isinstance(pours, list) else None,
                "verdict_pretrained": pv,
                "why_pretrained": pwhy or None,
            }
        )
        by_id[c["id"]] = rows[-1]
    return rows


def _describe_rule(rule: Mapping[str, Any]) -> str:
    parts = [rule["rule"]] + [f"{k}={v}" for k, v in rule.items() if k not in ("rule", "than")]
    if "than" in rule:
        parts.append(f"than {rule['than']['table']}.{rule['than']['value']}")
    return " ".join(parts)


def _fmt(x: Any, unit: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, list | tuple):
        return " → ".join(_fmt(v, unit) for v in x)
    if unit == "%":
        return f"{x:.1%}"
    if unit == "x":
        return f"{x:.2f}×"
    return f"{x:+.4g}" if unit == "nats" else f"{x:.4g}"


def _bold(verdict: str | None) -> str:
    return f"**{verdict}**" if isinstance(verdict, str) and verdict else ""


def render_markdown(rows: list[dict[str, Any]], run_name: str, figures_dir: str) -> str:
    counts = {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
    lines = [
        f"# Seed claims against run `{run_name}`",
        "",
        "Generated by the `claims` rule from `config/claims.yaml` and `tables/*.parquet`. "
        "Verdict rules are fixed in `config/claims.yaml` before a run reads them; a rule "
        "changed after a run is said so in the commit that changes it (`within_rel_gain` "
        "replaced `within_rel` for speedups after a smoke run; the matched-control, "
        "relative-tolerance and no-tautology revisions of issue 16 were made after the "
        "default run they now judge). Direction: two-sided (within a tolerance either way), "
        "at-most / at-least (a one-sided bound: better than the seed counts), order (a "
        "comparison between our own models). Scale-dependent claims (marked †) compare an "
        "85M-7B model with ours.",
        "",
        " · ".join(f"**{n}** {v}" for v, n in counts.items() if n),
        "",
        "The SmolLM2 columns judge the same claim on the pretrained model (SmolLM2-135M, "
        "dequantised from its Q4_1 GGUF; the `pretrained_*` tables), by the byte model's "
        "rule unless the claim says otherwise; empty where a claim has no pretrained "
        "counterpart. Its verdicts: "
        + (
            " · ".join(
                f"**{n}** {v}"
                for v in VERDICTS
                if (n := sum(r.get("verdict_pretrained") == v for r in rows))
            )
            or "none"
        )
        + ".",
        "",
    ]
    for seed in SEEDS:
        lines += [
            f"## `{seed}`",
            "",
            "| id | claim | seed | ours | verdict | SmolLM2 | verdict (SmolLM2) | rule "
            "| direction | context | figure |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            if r["seed_file"] != seed:
                continue
            ours = r["ours_series"] if r["ours_series"] is not None else r["ours"]
            figure = r["figure"] if isinstance(r["figure"], str) and r["figure"] else None
            fig = f"[{figure}]({figures_dir}/{figure}.png)" if figure else ""
            mark = " †" if r["scale_dependent"] else ""
            lines.append(
                f"| {r['variant']}{mark} | {r['claim']} ({r['section']}) "
                f"| {_fmt(r['seed_value'], r['unit'])} | {_fmt(ours, r['unit'])} "
                f"| {_bold(r['verdict'])} | {_fmt(r.get('ours_pretrained'), r['unit'])} "
                f"| {_bold(r.get('verdict_pretrained'))} "
                f"| {r['rule']} | {r['direction']} | {r['context'] or ''} "
                f"| {fig} |"
            )
        lines.append("")
    return "\n".join(lines)
