"""The stage recipes on tiny models: retrofits, relufy, prune, combined, refuted verdicts."""

import numpy as np
import pandas as pd
import pytest
import torch

from actsparse.core.evaluate import window_starts
from actsparse.core.model import ByteGPT, capture
from actsparse.core.train import TrainConfig, train
from actsparse.methods.pruning import prune_and_recover, prune_ffn
from actsparse.methods.relufy import relufy_finetune
from actsparse.methods.retrofit import hard_swap_rows, magnitude_gate, naive_gating_row
from actsparse.methods.schedules import L1Schedule
from actsparse.report.refuted import refuted_rows
from actsparse.report.tables import end_points
from tests.conftest import QUIET, tiny_config


def cfg(**kw) -> TrainConfig:
    base = dict(steps=10, batch_size=4, lr=3e-3, warmup_steps=2, eval_every=5, eval_windows=4)
    return TrainConfig(**{**base, **kw})


@pytest.fixture
def trained(byte_stream) -> ByteGPT:
    torch.manual_seed(0)
    model = ByteGPT(tiny_config())
    train(model, byte_stream, byte_stream, cfg(steps=30), QUIET)
    return model


def splits_of(data):
    return {"train": data, "val": data, "test": data}


def test_magnitude_gate_zeroes_exactly_the_small_outputs(trained):
    x = torch.randint(0, 256, (2, 16))
    with torch.no_grad(), magnitude_gate(trained, 0.05):
        with capture(trained, ("ffn_pre", "ffn_post")) as acts:
            trained(x)
    for pre, post in zip(acts["ffn_pre"], acts["ffn_post"], strict=True):
        a = torch.nn.functional.gelu(pre)
        assert torch.equal(post, torch.where(a.abs() >= 0.05, a, torch.zeros_like(a)))
        assert 0.1 < (post == 0).float().mean() < 1.0


def test_naive_gating_row_reports_saving_and_budget(trained, byte_stream):
    starts = window_starts(len(byte_stream), 32, 4)
    row = naive_gating_row(trained, byte_stream, starts, 0.05, max_rel_ce=0.01)
    assert 0 < row["down_flops_saved"] <= 1
    assert row["model_flops_saved"] < row["down_flops_saved"]
    assert row["within_budget"] == (row["rel_ce"] <= 0.01)


def test_hard_swap_reports_relu_zeros(trained, byte_stream):
    rows = hard_swap_rows(trained, byte_stream, window_starts(len(byte_stream), 32, 4), "relu")
    assert rows[0]["row_type"] == "final" and rows[0]["act_sparsity"] > 0.2
    assert [r["layer"] for r in rows[1:]] == [0, 1]


def test_relufy_with_lam_zero_is_the_plain_relu_finetune(trained, byte_stream):
    a = ByteGPT(tiny_config())
    a.load_state_dict(trained.state_dict())
    b = ByteGPT(tiny_config())
    b.load_state_dict(trained.state_dict())
    relufy_finetune(a, splits_of(byte_stream), cfg(), L1Schedule.constant(0.0), run=QUIET)
    b.set_activation("relu")
    train(b, byte_stream, byte_stream, cfg(), QUIET)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))


def test_l1_raises_sparsity_over_the_plain_finetune(trained, byte_stream):
    ends = {}
    for lam in (0.0, 3.0):
        m = ByteGPT(tiny_config())
        m.load_state_dict(trained.state_dict())
        _, rows = relufy_finetune(
            m, splits_of(byte_stream), cfg(steps=30), L1Schedule.constant(lam), run=QUIET
        )
        ends[lam] = [r for r in rows if r["row_type"] == "curve"][-1]["act_sparsity"]
    assert ends[3.0] > ends[0.0] + 0.05


def test_relufy_trajectory_starts_with_the_swap_at_step_zero(trained, byte_stream):
    _, rows = relufy_finetune(
        trained, splits_of(byte_stream), cfg(), L1Schedule.constant(0.5), run=QUIET
    )
    curve = [r for r in rows if r["row_type"] == "curve"]
    assert [r["step"] for r in curve] == [0, 5, 10]
    assert all({"ce", "delta_ce", "rel_ce", "act_sparsity"} <= set(r) for r in curve)


def test_masked_weights_are_exactly_zero_after_the_combined_finetune(trained, byte_stream):
    masks = prune_ffn(trained, 0.5, "block16")
    relufy_finetune(
        trained,
        splits_of(byte_stream),
        cfg(),
        L1Schedule.constant(0.5),
        masks=masks,
        run=QUIET,
    )
    params = dict(trained.named_parameters())
    for name, mask in masks.items():
        assert torch.all(params[name][~mask] == 0)


def test_prune_and_recover_reports_weight_sparsity(trained, byte_stream):
    rows = prune_and_recover(trained, splits_of(byte_stream), cfg(), 0.5, "unstructured", QUIET)
    assert all(r["weight_sparsity"] == pytest.approx(0.5, abs=0.01) for r in rows)
    assert rows[0]["step"] == 0


def table(rows):
    return pd.DataFrame(rows)


BARS = dict(
    gating_min_saving=0.5,
    hard_swap_max_rel_ce=0.05,
    min_act_sparsity=0.85,
    relufy_max_delta_ce=0.05,
    prune_max_delta_ce=0.05,
    combined_max_delta_ce=0.15,
    combined_min_weight_sparsity=0.49,
)


def hand_tables(relufy_delta: float) -> dict[str, pd.DataFrame]:
    curve = dict(row_type="curve", weight_sparsity=np.nan)
    return {
        "naive_gating": table(
            [
                dict(
                    variant="gate_tau0.01",
                    tau=0.01,
                    down_flops_saved=0.17,
                    model_flops_saved=0.05,
                    delta_ce=0.001,
                    rel_ce=0.005,
                    max_rel_ce=0.01,
                    within_budget=True,
                ),
                dict(
                    variant="gate_tau0.1",
                    tau=0.1,
                    down_flops_saved=0.6,
                    model_flops_saved=0.2,
                    delta_ce=0.3,
                    rel_ce=0.2,
                    max_rel_ce=0.01,
                    within_budget=False,
                ),
            ]
        ),
        "hard_swap": table(
            [
                dict(
                    variant="hard_swap_relu",
                    row_type="final",
                    step=0,
                    act_sparsity=0.81,
                    delta_ce=2.9,
                    rel_ce=3.02,
                )
            ]
        ),
        "relufy": table(
            [
                dict(variant="relufy_lam0.3", step=0, act_sparsity=0.95, delta_ce=2.9, **curve),
                dict(
                    variant="relufy_lam0.3",
                    step=500,
                    act_sparsity=0.875,
                    delta_ce=relufy_delta,
                    **curve,
                ),
            ]
        ),
        "scratch": table(
            [
                dict(
                    variant="gelu",
                    activation="gelu",
                    row_type="final",
                    step=9,
                    ce=1.0,
                    act_sparsity=0.0,
                ),
                dict(
                    variant="relu_l1",
                    activation="relu",
                    row_type="final",
                    step=9,
                    ce=1.008,
                    act_sparsity=0.832,
                ),
            ]
        ),
        "prune": table(
            [
                dict(
                    variant="prune_unstructured_r0.5",
                    row_type="curve",
                    step=500,
                    weight_sparsity=0.5,
                    delta_ce=0.0049,
                )
            ]
        ),
        "combined": table(
            [
                dict(
                    variant="combined_block16",
                    row_type="curve",
                    step=500,
                    act_sparsity=0.881,
                    weight_sparsity=0.5,
                    delta_ce=0.105,
                )
            ]
        ),
    }


def test_refuted_log_on_the_seed_numbers():
    rows = {r["variant"]: r for r in refuted_rows(hand_tables(0.037), BARS)}
    assert rows["gate_tau0.01"]["refuted"] and rows["gate_tau0.01"]["saving"] == 0.17
    assert rows["hard_swap_relu"]["refuted"]
    assert not rows["relufy_lam0.3"]["refuted"]
    assert rows["relu_l1"]["refuted"]  # 83.2% < 85%: the seed's own control misses this bar
    assert rows["relu_l1"]["delta_ce"] == pytest.approx(0.008)
    assert not rows["prune_unstructured_r0.5"]["refuted"]
    assert not rows["combined_block16"]["refuted"]


def test_refuted_log_marks_a_failing_variant():
    rows = {r["variant"]: r for r in refuted_rows(hand_tables(0.2), BARS)}
    assert (
        rows["relufy_lam0.3"]["refuted"]
        and "delta_ce +0.200 > 0.05" in rows["relufy_lam0.3"]["why"]
    )


def test_end_points_take_the_last_step_of_each_variant():
    df = hand_tables(0.037)["relufy"]
    assert end_points(df).loc["relufy_lam0.3", "step"] == 500


def control_table(tmp_path, budget):
    from actsparse.report.tables import write_table

    rows = [
        dict(variant="dense_control", row_type="curve", step=s, ce=ce)
        for s, ce in [(0, 2.0), (50, 1.9), (100, 1.8)]
    ]
    path = tmp_path / "dense_control.parquet"
    write_table("dense_control", rows, path, {"run_name": "t", "seed": 0, "relufy": budget})
    return path


BUDGET = dict(
    steps=100,
    batch_size=8,
    lr=5e-4,
    warmup_steps=20,
    min_lr_frac=0.1,
    weight_decay=0.1,
    grad_clip=1.0,
    eval_every=50,
    precision="fp32",
)


def test_delta_ce_matched_subtracts_the_control_at_the_same_step(tmp_path):
    from actsparse.methods.finetune import add_matched

    rows = [
        dict(row_type="curve", step=0, ce=2.5),
        dict(row_type="curve", step=100, ce=1.85),
        dict(row_type="layer", step=100, layer=0, act_sparsity=0.9),
    ]
    out = add_matched(rows, control_table(tmp_path, BUDGET), {**BUDGET, "lams": [1]})
    assert out[0]["delta_ce_matched"] == pytest.approx(0.5)
    assert out[1]["delta_ce_matched"] == pytest.approx(0.05)
    assert "delta_ce_matched" not in out[2]


def test_no_matched_value_when_the_budget_differs_from_the_control(tmp_path):
    from actsparse.methods.finetune import add_matched

    rows = [dict(row_type="curve", step=100, ce=1.85)]
    out = add_matched(rows, control_table(tmp_path, BUDGET), {**BUDGET, "lr": 1e-3})
    assert "delta_ce_matched" not in out[0]


def test_refuted_log_judges_the_matched_delta_where_the_stage_has_one():
    tables = hand_tables(0.01)  # unmatched: within the bar
    tables["relufy"] = tables["relufy"].assign(delta_ce_matched=0.2)  # matched: far over it
    tables["prune"] = tables["prune"].assign(delta_ce_matched=0.2)
    rows = {r["variant"]: r for r in refuted_rows(tables, BARS)}
    assert rows["relufy_lam0.3"]["refuted"]
    assert "delta_ce_matched +0.200" in rows["relufy_lam0.3"]["why"]
    assert rows["relufy_lam0.3"]["delta_ce"] == pytest.approx(0.01)  # shown beside it
    assert rows["prune_unstructured_r0.5"]["refuted"]
