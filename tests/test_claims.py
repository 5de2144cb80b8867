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


def claim(ours, rule, seed_value=None):
    c = {"id": "c", "seed": SEEDS[0], "section": "s", "claim": "x", "ours": ours, "verdict": rule}
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
