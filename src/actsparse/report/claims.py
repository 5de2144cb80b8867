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
    minus:   optional second query whose value is subtracted (a difference of two models)
    agg:     optional min | max | mean of `value` over every matching row, instead of one row
    order_by: optional column: return every matching row's value, in that order (for
             the `increasing` rule)

Verdict rules (`verdict.rule`): within_abs / within_rel / within_rel_gain (`tol`; the gain
rule compares speedup - 1, so no speedup near 1 passes for a modest claimed gain) and
at_least / at_most (`bound`) give "reproduced" or "not reproduced"; greater_than /
less_than (another query `than`, times `factor`) and increasing give "shape holds" or
"not reproduced". A claim whose table the run did not produce is "not run"; one whose
query matches nothing is "no data".
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
    for c in claims:
        if c["verdict"]["rule"].startswith("within") and "seed_value" not in c:
            raise ClaimError(f"claim {c['id']}: rule {c['verdict']['rule']} needs a seed_value")
    ids = [c["id"] for c in claims]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ClaimError(f"claim ids used twice in {path}: {dupes}")
    return claims


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


def query(tables: Mapping[str, pd.DataFrame], q: Mapping[str, Any]) -> float | list[float]:
    """Our value for a query (see the module docstring for the language)."""
    if q["table"] not in tables:
        raise NotRun(q["table"])
    df = _filter(tables[q["table"]], q.get("where", {}))
    if df.empty:
        raise NoData(f"no row of {q['table']} matches {q.get('where', {})}")
    values = _column(df, q["value"], "value").astype(float)
    if "per" in q:
        values = values / _column(df, q["per"], "per").astype(float)
    if "order_by" in q:
        order = _column(df, q["order_by"], "order_by")
        return [float(v) for v in values.loc[order.sort_values().index]]
    offset = query(tables, q["minus"]) if "minus" in q else 0.0
    if "agg" in q:
        return float(getattr(values, q["agg"])()) - offset
    if "select" in q:
        how, col = q["select"].split()
        key = _column(df, col, "select").astype(float)
        return float(values.loc[key.idxmax() if how == "max" else key.idxmin()]) - offset
    if len(df) != 1:
        raise ClaimError(
            f"query on {q['table']} matches {len(df)} rows; narrow `where`, or use select/agg"
        )
    return float(values.iloc[0]) - offset


def verdict(
    claim: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]
) -> tuple[str, float | list[float] | None, str]:
    """(verdict, our value, a one-line reason) for one claim."""
    rule = claim["verdict"]
    try:
        ours = query(tables, claim["ours"])
        ref = query(tables, rule["than"]) if "than" in rule else None
    except NotRun as e:
        return "not run", None, f"table {e} was not produced by this run"
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
        ok, why = abs(ours - seed) <= rule["tol"], f"|ours - seed| <= {rule['tol']:g}"
    elif kind == "within_rel":
        ok, why = abs(ours - seed) <= rule["tol"] * abs(seed), f"within {rule['tol']:.0%} of seed"
    elif kind == "within_rel_gain":
        ok = abs(ours - seed) <= rule["tol"] * abs(seed - 1.0)
        why = f"gain within {rule['tol']:.0%} of the seed's"
    elif kind == "at_least":
        ok, why = ours >= rule["bound"], f"needs >= {rule['bound']:g}"
    else:  # at_most
        ok, why = ours <= rule["bound"], f"needs <= {rule['bound']:g}"
    return ("reproduced" if ok else "not reproduced"), ours, why


def claims_rows(
    claims: list[Mapping[str, Any]], tables: Mapping[str, pd.DataFrame]
) -> list[dict[str, Any]]:
    rows = []
    for c in claims:
        v, ours, why = verdict(c, tables)
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
                "source_table": c["ours"]["table"],
            }
        )
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


def render_markdown(rows: list[dict[str, Any]], run_name: str, figures_dir: str) -> str:
    counts = {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
    lines = [
        f"# Seed claims against run `{run_name}`",
        "",
        "Generated by the `claims` rule from `config/claims.yaml` and `tables/*.parquet`. "
        "Every verdict rule was written before the run; nothing is tuned after it. "
        "Scale-dependent claims (marked †) compare an 85M-7B model with ours.",
        "",
        " · ".join(f"**{n}** {v}" for v, n in counts.items() if n),
        "",
    ]
    for seed in SEEDS:
        lines += [
            f"## `{seed}`",
            "",
            "| id | claim | seed | ours | verdict | rule | figure |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            if r["seed_file"] != seed:
                continue
            ours = r["ours_series"] if r["ours_series"] is not None else r["ours"]
            fig = f"[{r['figure']}]({figures_dir}/{r['figure']}.png)" if r["figure"] else ""
            mark = " †" if r["scale_dependent"] else ""
            lines.append(
                f"| {r['variant']}{mark} | {r['claim']} ({r['section']}) "
                f"| {_fmt(r['seed_value'], r['unit'])} | {_fmt(ours, r['unit'])} "
                f"| **{r['verdict']}** | {r['rule']} | {fig} |"
            )
        lines.append("")
    return "\n".join(lines)
