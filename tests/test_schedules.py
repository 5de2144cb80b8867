"""L1 schedules, FATReLU, and the relufication frontier on hand-made points."""

import math

import pandas as pd
import pytest
import torch

from actsparse.core.model import ByteGPT, capture
from actsparse.core.train import TrainConfig
from actsparse.methods.frontier import best_row, frontier_rows, pareto_mask, pick_best
from actsparse.methods.relufy import fatrelu_rows
from actsparse.methods.schedules import L1Schedule, ScheduledL1, relufy_schedules
from tests.conftest import tiny_config


def test_constant_schedule_is_the_seed_recipe():
    s = L1Schedule.constant(0.3)
    assert s.name == "lam0.3"
    assert [s.lam_at(k, 100) for k in (0, 50, 99)] == [0.3, 0.3, 0.3]


def test_linear_ramp_rises_to_the_peak_then_holds():
    s = L1Schedule("r", "linear", peak=2.0, ramp_frac=0.5)
    assert s.lam_at(0, 100) == 0.0
    assert s.lam_at(25, 100) == pytest.approx(1.0)
    assert s.lam_at(50, 100) == s.lam_at(99, 100) == 2.0
    lams = [s.lam_at(k, 100) for k in range(100)]
    assert lams == sorted(lams)


def test_stepwise_ramp_has_equal_plateaus_starting_at_step_zero():
    s = L1Schedule("s", "stepwise", peak=4.0, stages=4, ramp_frac=1.0)
    assert {s.lam_at(k, 100) for k in range(100)} == {1.0, 2.0, 3.0, 4.0}
    assert s.lam_at(0, 100) == 1.0 and s.lam_at(24, 100) == 1.0 and s.lam_at(25, 100) == 2.0


def test_mean_lam_of_a_linear_ramp():
    s = L1Schedule("r", "linear", peak=1.0, ramp_frac=1.0)
    assert s.mean_lam(1000) == pytest.approx(0.5, abs=1e-3)


@pytest.mark.parametrize(
    "kw", [dict(ramp="cubic"), dict(peak=-1.0), dict(stages=0), dict(ramp_frac=0.0)]
)
def test_bad_schedules_are_rejected(kw):
    with pytest.raises(ValueError, match="schedule 'x'"):
        L1Schedule("x", **{"ramp": "linear", "peak": 1.0, **kw})


def test_schedule_names_must_be_unique():
    relufy = {"lams": [0.3], "schedules": [{"name": "a", "ramp": "linear", "peak": 1}] * 2}
    with pytest.raises(ValueError, match="'a' is used twice"):
        relufy_schedules(relufy)
    got = relufy_schedules({"lams": [0.0, 0.3], "schedules": relufy["schedules"][:1]})
    assert list(got) == ["lam0", "lam0.3", "a"]


def test_scheduled_l1_follows_the_schedule():
    acts = {"ffn_post": [torch.full((2, 3), -2.0)]}
    reg = ScheduledL1(L1Schedule("r", "linear", peak=1.0, ramp_frac=1.0), steps=10)
    assert reg(0, acts).item() == 0.0
    assert reg(5, acts).item() == pytest.approx(1.0)


def test_fatrelu_zeroes_everything_up_to_the_threshold():
    model = ByteGPT(tiny_config())
    model.set_activation("fatrelu", shift=0.1)
    x = torch.tensor([-1.0, 0.0, 0.05, 0.1, 0.2])
    assert model.h[0].mlp.act(x).tolist() == [0.0, 0.0, 0.0, 0.0, pytest.approx(0.2)]


def test_fatrelu_rows_add_sparsity_and_leave_the_model_relu(byte_stream):
    torch.manual_seed(0)
    model = ByteGPT(tiny_config())
    model.set_activation("relu")
    tcfg = TrainConfig(steps=7, batch_size=2, lr=1e-3, eval_windows=4)
    rows = fatrelu_rows(model, byte_stream, tcfg, [0.01, 0.5], ce_dense=5.0)
    assert [r["fat_threshold"] for r in rows] == [0.01, 0.5]
    assert all(r["row_type"] == "final" and r["step"] == 7 for r in rows)
    assert rows[1]["act_sparsity"] > rows[0]["act_sparsity"]
    assert model.cfg.activation == "relu"
    with torch.no_grad(), capture(model, ("ffn_post",)) as acts:
        model(torch.randint(0, 256, (1, 8)))
    assert (acts["ffn_post"][0] >= 0).all()


def test_pareto_mask_on_hand_points():
    sparsity = pd.Series([0.9, 0.95, 0.93, 0.80], index=list("abcd"))
    cost = pd.Series([0.01, 0.06, 0.07, 0.00], index=list("abcd"))
    # c is dominated by b (sparser and cheaper); the rest trade off
    assert pareto_mask(sparsity, cost).to_dict() == dict(a=True, b=True, c=False, d=True)


def test_pick_best_takes_the_sparsest_within_budget_else_the_cheapest():
    pts = pd.DataFrame(
        {"act_sparsity": [0.9, 0.95, 0.8], "delta_ce_matched": [0.01, 0.06, 0.0]},
        index=["a", "b", "c"],
    )
    assert pick_best(pts, 0.05) == "a"
    assert pick_best(pts, 0.10) == "b"
    assert pick_best(pts, -1.0) == "c"  # nothing qualifies: closest to the control


def _relufy_table() -> pd.DataFrame:
    def end(variant, schedule, sparsity, matched, fat=math.nan):
        return dict(
            variant=variant,
            row_type="final" if fat == fat else "curve",
            step=100,
            schedule=schedule,
            fat_threshold=fat,
            act_sparsity=sparsity,
            ce=1.0,
            delta_ce=matched - 0.01,
            delta_ce_matched=matched,
        )

    return pd.DataFrame(
        [
            end("relufy_lam0.3", "lam0.3", 0.90, 0.02),
            end("relufy_lam0.3_fat0.1", "lam0.3", 0.94, 0.04, fat=0.1),
            end("relufy_up", "up", 0.96, 0.08),
        ]
    )


def test_frontier_rows_and_best_row_round_trip():
    schedules = relufy_schedules(
        {"lams": [0.3], "schedules": [{"name": "up", "ramp": "stepwise", "peak": 3, "stages": 3}]}
    )
    rows = pd.DataFrame(frontier_rows(_relufy_table(), schedules, 0.05)).set_index("variant")
    assert rows.best.to_dict() == {
        "relufy_lam0.3": False,
        "relufy_lam0.3_fat0.1": True,
        "relufy_up": False,
    }
    assert rows.on_front.all()
    schedule, fat = best_row(rows)
    assert schedule == L1Schedule.constant(0.3) and fat == 0.1
    rows["best"] = False
    with pytest.raises(ValueError, match="marks 0 best"):
        best_row(rows)


def test_frontier_needs_the_matched_control():
    df = _relufy_table().assign(delta_ce_matched=math.nan)
    with pytest.raises(ValueError, match="dense_control"):
        frontier_rows(df, relufy_schedules({"lams": [0.3]}), 0.05)
