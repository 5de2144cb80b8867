"""The claims ledger: the query language and verdict rules on hand-made tables, the shipped
claims file, and the errors a malformed claim gives."""

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from actsparse.report.claims import (
    SEEDS,
    ClaimError,
    claims_rows,
    load_claims,
    query,
    render_markdown,
    verdict,
)
from actsparse.report.figures import FIGURES
from actsparse.report.results_page import render_results_page

REPO = Path(__file__).resolve().parents[1]

TABLES = {
    "relufy": pd.DataFrame(
        {
            "variant": ["relufy_lam0.3"] * 3 + ["relufy_lam1"] * 2,
            "row_type": ["curve"] * 5,
            "step": [0, 250, 500, 0, 500],
            "act_sparsity": [0.95, 0.90, 0.88, 0.95, 0.93],
            "delta_ce": [2.9, 0.1, 0.04, 2.9, 0.09],
        }
    ),
    "family": pd.DataFrame(
        {
            "variant": ["silu", "gelu", "relu"],
            "beta": [1.0, 1.7, math.inf],
            "act_sparsity": [0.0, 0.1, 0.8],
        }
    ),
}


DIRECTION = {"sense": "two-sided", "why": "a test claim, either way"}


def claim(ours, rule, seed_value=None, **extra):
    c = {
        "id": "c",
        "seed": SEEDS[0],
        "section": "s",
        "claim": "x",
        "ours": ours,
        "verdict": rule,
        "direction": DIRECTION,
        **extra,
    }
    return c if seed_value is None else {**c, "seed_value": seed_value}


END = {"table": "relufy", "where": {"variant": "relufy_lam0.3"}, "select": "max step"}


def test_query_equality_select_and_agg():
    assert query(TABLES, {**END, "value": "act_sparsity"}) == 0.88
    q = {"table": "relufy", "where": {"step": 500}, "agg": "mean", "value": "act_sparsity"}
    assert query(TABLES, q) == pytest.approx(0.905)


def test_query_comparisons_lists_and_regex():
    q = {"table": "relufy", "where": {"step": {">": 0, "<": 500}}, "value": "delta_ce"}
    assert query(TABLES, q) == 0.1
    q = {"table": "relufy", "where": {"variant": ["relufy_lam1"], "step": 0}, "value": "delta_ce"}
    assert query(TABLES, q) == 2.9
    q = {
        "table": "relufy",
        "where": {"variant": {"matches": "lam1$"}},
        "agg": "min",
        "value": "step",
    }
    assert query(TABLES, q) == 0


def test_query_per_minus_and_order_by():
    q = {**END, "value": "delta_ce", "per": "act_sparsity"}
    assert query(TABLES, q) == pytest.approx(0.04 / 0.88)
    q = {**END, "value": "act_sparsity", "minus": {**END, "value": "delta_ce"}}
    assert query(TABLES, q) == pytest.approx(0.84)
    q = {"table": "family", "order_by": "beta", "value": "act_sparsity"}
    assert query(TABLES, q) == [0.0, 0.1, 0.8]


def test_an_ambiguous_query_is_an_error_not_a_guess():
    with pytest.raises(ClaimError, match="matches 3 rows"):
        query(TABLES, {"table": "relufy", "where": {"variant": "relufy_lam0.3"}, "value": "step"})


def test_an_unknown_column_is_named():
    with pytest.raises(ClaimError, match="no column 'lam'"):
        query(TABLES, {"table": "relufy", "where": {"lam": 0.3}, "value": "step"})


@pytest.mark.parametrize(
    "rule, seed_value, expected",
    [
        ({"rule": "within_abs", "tol": 0.05}, 0.875, "reproduced"),
        ({"rule": "within_abs", "tol": 0.001}, 0.875, "not reproduced"),
        ({"rule": "within_rel", "tol": 0.1}, 0.9, "reproduced"),
        ({"rule": "within_rel", "tol": 0.1}, 0.5, "not reproduced"),
        ({"rule": "within_rel_gain", "tol": 0.3}, 0.9, "reproduced"),  # gain -0.12 vs -0.1
        ({"rule": "within_rel_gain", "tol": 0.3}, 1.2, "not reproduced"),  # no gain vs 1.2x
        ({"rule": "at_least", "bound": 0.85}, None, "reproduced"),
        ({"rule": "at_least", "bound": 0.9}, None, "not reproduced"),  # a failing claim
        ({"rule": "at_most", "bound": 0.9}, None, "reproduced"),
        ({"rule": "at_most", "bound": 0.5}, None, "not reproduced"),
    ],
)
def test_value_rules(rule, seed_value, expected):
    got, ours, _ = verdict(claim({**END, "value": "act_sparsity"}, rule, seed_value), TABLES)
    assert (got, ours) == (expected, 0.88)


def test_shape_rules_hold_or_fail():
    swap = {
        "table": "relufy",
        "where": {"variant": "relufy_lam0.3", "step": 0},
        "value": "delta_ce",
    }
    end = {**END, "value": "delta_ce"}
    repaired = {"rule": "less_than", "factor": 0.1, "than": swap}
    assert verdict(claim(end, repaired), TABLES)[0] == "shape holds"
    assert verdict(claim(swap, repaired), TABLES)[0] == "not reproduced"
    rising = claim(
        {"table": "family", "order_by": "beta", "value": "act_sparsity"}, {"rule": "increasing"}
    )
    assert verdict(rising, TABLES)[0] == "shape holds"
    falling = {**TABLES, "family": TABLES["family"].assign(act_sparsity=[0.5, 0.1, 0.8])}
    assert verdict(rising, falling)[0] == "not reproduced"


def test_missing_table_is_not_run_and_empty_match_is_no_data():
    q = {"table": "aggregated", "value": "x"}
    assert verdict(claim(q, {"rule": "at_least", "bound": 0}), TABLES)[0] == "not run"
    q = {"table": "relufy", "where": {"step": 7}, "value": "delta_ce"}
    assert verdict(claim(q, {"rule": "at_least", "bound": 0}), TABLES)[0] == "no data"


def test_markdown_shows_failing_claims_as_failing():
    rows = claims_rows(
        [
            claim({**END, "value": "act_sparsity"}, {"rule": "at_least", "bound": 0.95}),
            {
                **claim({**END, "value": "act_sparsity"}, {"rule": "at_least", "bound": 0.5}),
                "id": "d",
            },
        ],
        TABLES,
    )
    md = render_markdown(rows, "t", "figures")
    assert "| c | x (s) | – | 0.88 | **not reproduced** |" in md
    assert "**1** reproduced · **1** not reproduced" in md
    page = render_results_page(rows, "t", ["relufy_frontier"])
    assert (
        "![relufy_frontier](figures/relufy_frontier.png)" in page and "**not reproduced**" in page
    )


def test_shipped_claims_cover_both_seeds():
    claims = load_claims(REPO / "config/claims.yaml")
    assert len(claims) >= 25
    for seed in SEEDS:
        assert sum(c["seed"] == seed for c in claims) >= 10, seed
    for c in claims:
        assert c.get("figure") is None or c["figure"] in FIGURES, c["id"]


def _write(tmp_path, claims):
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": claims}))
    return path


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"verdict": {"rule": "roughly"}}, "verdict.rule"),
        ({"verdict": {"rule": "within_abs"}}, "'tol' is a required"),
        ({"seed": "003.txt"}, "seed"),
        ({"ours": {"table": "relufy"}}, "'value' is a required"),
        ({"ours": {"table": "relufy", "value": "x", "where": {"a": {"~": 1}}}}, "where"),
    ],
)
def test_malformed_claims_are_rejected_naming_the_key(tmp_path, bad, words):
    good = claim({"table": "relufy", "value": "x"}, {"rule": "at_least", "bound": 0})
    with pytest.raises(ClaimError) as err:
        load_claims(_write(tmp_path, [{**good, **bad}]))
    assert words in str(err.value)


def test_duplicate_ids_and_missing_seed_values_are_rejected(tmp_path):
    good = claim({"table": "relufy", "value": "x"}, {"rule": "at_least", "bound": 0})
    with pytest.raises(ClaimError, match="used twice"):
        load_claims(_write(tmp_path, [good, good]))
    within = claim({"table": "relufy", "value": "x"}, {"rule": "within_abs", "tol": 0.1})
    with pytest.raises(ClaimError, match="needs a seed_value"):
        load_claims(_write(tmp_path, [within]))


def test_every_figure_has_a_report_caption():
    for fig in FIGURES:
        caption = REPO / "workflow/report/figures" / f"{fig}.rst"
        assert caption.exists() and len(caption.read_text()) > 80, fig


def test_a_derived_claim_takes_its_parents_verdict():
    frac = claim({**END, "value": "act_sparsity"}, {"rule": "within_rel", "tol": 0.01}, 0.5)
    inverse = {**END, "value": "act_sparsity", "transform": "complement"}
    speedup = claim(inverse, {"rule": "within_abs", "tol": 1.0}, 0.12, id="d", derived_from="c")
    rows = {r["variant"]: r for r in claims_rows([frac, speedup], TABLES)}
    assert rows["c"]["verdict"] == "not reproduced"  # 0.88 against 0.5
    assert rows["d"]["verdict"] == "not reproduced"  # its own rule would pass: 0.12 vs 0.12
    assert rows["d"]["ours"] == pytest.approx(0.12)
    assert "derived from c" in rows["d"]["why"]


def test_a_small_fraction_needs_a_relative_tolerance(tmp_path):
    small = claim({"table": "t", "value": "x"}, {"rule": "within_abs", "tol": 0.05}, 0.06)
    with pytest.raises(ClaimError, match="relative tolerance"):
        load_claims(_write(tmp_path, [{**small, "unit": "%"}]))
    load_claims(_write(tmp_path, [{**small, "unit": "%", "seed_value": 0.5}]))  # 0.5 is fine


def test_a_derived_claim_must_name_an_earlier_one(tmp_path):
    c = claim({"table": "t", "value": "x"}, {"rule": "at_least", "bound": 0}, derived_from="z")
    with pytest.raises(ClaimError, match="earlier claim"):
        load_claims(_write(tmp_path, [c]))


def test_a_claim_without_a_direction_is_rejected(tmp_path):
    c = claim({"table": "t", "value": "x"}, {"rule": "at_least", "bound": 0})
    del c["direction"]
    with pytest.raises(ClaimError, match="direction"):
        load_claims(_write(tmp_path, [c]))


def test_ratio_range_transform_and_context():
    ratio = {**END, "value": "act_sparsity", "over": {**END, "value": "delta_ce"}}  # 0.88/0.04
    assert verdict(claim(ratio, {"rule": "within_range", "lo": 20, "hi": 23}), TABLES)[0] == (
        "reproduced"
    )
    assert verdict(claim(ratio, {"rule": "within_range", "lo": 0.8, "hi": 1}), TABLES)[0] == (
        "not reproduced"
    )
    expm1 = {**END, "value": "delta_ce", "transform": "expm1"}
    assert verdict(claim(expm1, {"rule": "at_most", "bound": 1}), TABLES)[1] == pytest.approx(
        math.expm1(0.04)
    )
    ctx = [{"label": "at step 0", "query": {**END, "select": "min step", "value": "delta_ce"}}]
    (row,) = claims_rows([claim(expm1, {"rule": "at_most", "bound": 1}, context=ctx)], TABLES)
    assert row["context"] == "at step 0 2.9"


def test_an_empty_table_is_not_run_with_its_reason(tmp_path):
    from actsparse.report.tables import read_table, write_table

    path = tmp_path / "kernels.parquet"
    write_table("kernels", [], path, {"run_name": "t", "seed": 0}, status="no C++ compiler")
    tables = {**TABLES, "kernels": read_table(path)}
    got, _, why = verdict(
        claim({"table": "kernels", "value": "speedup_vs_dense"}, {"rule": "at_least", "bound": 1}),
        tables,
    )
    assert got == "not run" and "no C++ compiler" in why


def test_a_claim_without_a_figure_links_none():
    rows = claims_rows(
        [claim({**END, "value": "act_sparsity"}, {"rule": "at_least", "bound": 0})], TABLES
    )
    rows[0]["figure"] = float("nan")  # what Parquet hands back for a missing string
    page = render_results_page(rows, "t", [])
    assert "nan" not in page and "figures/" not in page


def test_the_committed_ledger_and_results_page_rebuild_from_the_committed_tables():
    """A change to the claims, their rules or their rendering that was not rerun on the
    committed default tables fails here, so the ledger on GitHub is never stale."""
    from actsparse.report.results_page import claims_records
    from actsparse.report.tables import read_table

    run = REPO / "results/default"
    tables = {p.stem: read_table(p) for p in (run / "tables").glob("*.parquet")}
    committed = tables.pop("claims")
    rows = claims_rows(load_claims(REPO / "config/claims.yaml"), tables)
    assert render_markdown(rows, "default", "figures") == (run / "claims.md").read_text()
    # a claim judged on the pretrained model alone has no byte verdict (null)
    stored = committed.verdict.astype(object).where(committed.verdict.notna(), None)
    assert [r["verdict"] for r in rows] == list(stored)
    figures = [
        line[2 : line.index("]")]
        for line in (run / "RESULTS.md").read_text().splitlines()
        if line.startswith("![")
    ]
    page = render_results_page(claims_records(committed), "default", figures)
    assert page == (run / "RESULTS.md").read_text()


PRE = {
    "pretrained_relufy": pd.DataFrame(
        {
            "variant": ["relufy_lam0", "relufy_lam0", "relufy_lam0_fat0.05"],
            "row_type": ["curve", "curve", "final"],
            "step": [0, 40, 40],
            "end_point": [False, True, True],
            "act_sparsity": [0.64, 0.70, 0.86],
            "delta_ce_matched": [None, 0.05, 0.12],
        }
    ),
    "pretrained_zeroshot": pd.DataFrame(
        {
            "variant": ["relufy_lam0", "control"],
            "task": ["mean", "mean"],
            "acc": [0.50, 0.54],
            "acc_stderr": [0.03, 0.03],
        }
    ),
}


def test_a_claim_is_judged_on_the_pretrained_model_beside_the_byte_model():
    """The pretrained block reuses the byte claim's rule: the sparsest end point within
    0.10 nats is the plain model (0.70), not the FATReLU point (0.86, over budget)."""
    where = {"end_point": True, "delta_ce_matched": {"<=": 0.1}}
    c = claim(
        {**END, "value": "act_sparsity"},
        {"rule": "within_abs", "tol": 0.05},
        0.875,
        pretrained={
            "ours": {
                "table": "pretrained_relufy",
                "where": where,
                "select": "max act_sparsity",
                "value": "act_sparsity",
            }
        },
    )
    [row] = claims_rows([c], {**TABLES, **PRE})
    assert row["verdict"] == "reproduced" and row["ours"] == pytest.approx(0.88)
    assert row["verdict_pretrained"] == "not reproduced"
    assert row["ours_pretrained"] == pytest.approx(0.70)
    md = render_markdown([row], "r", "figures")
    assert "| **reproduced** | 0.7 | **not reproduced** |" in md
    # a claim with no pretrained counterpart leaves those columns empty
    [plain] = claims_rows(
        [claim({**END, "value": "act_sparsity"}, {"rule": "at_least", "bound": 0.5})], TABLES
    )
    assert plain["verdict_pretrained"] is None and plain["ours_pretrained"] is None


def test_tol_plus_widens_the_tolerance_by_a_measured_standard_error():
    diff = {
        "table": "pretrained_zeroshot",
        "where": {"variant": "relufy_lam0", "task": "mean"},
        "value": "acc",
        "minus": {
            "table": "pretrained_zeroshot",
            "where": {"variant": "control", "task": "mean"},
            "value": "acc",
        },
    }
    se = {"table": "pretrained_zeroshot", "where": {"variant": "relufy_lam0", "task": "mean"}}
    rule = {"rule": "within_abs", "tol": 0.02}
    only = {"pretrained": {"ours": diff}}
    c = {k: v for k, v in claim(diff, rule, 0.0, **only).items() if k != "ours"}
    [row] = claims_rows([c], PRE)  # -4 points: outside 2
    assert row["verdict"] is None and row["verdict_pretrained"] == "not reproduced"
    assert row["ours_pretrained"] == pytest.approx(-0.04)
    c["verdict"] = {**rule, "tol_plus": {**se, "value": "acc_stderr"}}
    [row] = claims_rows([c], PRE)  # 2 + 3 points
    assert row["verdict_pretrained"] == "reproduced" and "acc_stderr" in row["why_pretrained"]


def test_a_claim_needs_a_byte_or_a_pretrained_query(tmp_path):
    c = claim({**END, "value": "act_sparsity"}, {"rule": "at_least", "bound": 0.5})
    del c["ours"]
    with pytest.raises(ClaimError, match="claims"):
        load_claims(_write(tmp_path, [c]))


def test_tol_plus_goes_only_with_within_abs(tmp_path):
    se = {"table": "pretrained_zeroshot", "value": "acc_stderr"}
    c = claim({**END, "value": "act_sparsity"}, {"rule": "at_least", "bound": 0.5, "tol_plus": se})
    with pytest.raises(ClaimError, match="tol_plus widens only a within_abs"):
        load_claims(_write(tmp_path, [c]))
