"""CETT-PPL-p% (methods.cett): a layer's eps against a hand-computed case, truncation on
the byte model and tiny Llama / GPT-2 models, the search against a known curve, and the
errors."""

import math

import pytest
import torch
from torch import nn

from actsparse.core import anatomy as A
from actsparse.methods import cett as C
from actsparse.pretrained import lm as L
from actsparse.pretrained import source
from actsparse.pretrained.tiny import write_tiny


def test_a_layer_eps_by_hand():
    # two neurons with orthonormal columns, outputs of norm 3 and 4 (whole: norm 5):
    # cutting the first costs CETT 3/5, so target 0.5 allows any eps below 3, and no more
    rows = torch.eye(2)
    acts = torch.tensor([[3.0, 4.0]])
    assert C.layer_cett(acts, rows, 2.9) == 0.0
    assert C.layer_cett(acts, rows, 3.0) == pytest.approx(0.6)
    assert C.layer_cett(acts, rows, 4.0) == pytest.approx(1.0)
    eps = C.layer_eps(acts, rows, 0.5)
    assert 3.0 - 1e-4 < eps < 3.0
    assert C.layer_eps(acts, rows, 0.7) == pytest.approx(4.0, abs=1e-4)


def test_a_layer_eps_meets_its_target_on_random_activations():
    g = torch.Generator().manual_seed(0)
    acts = torch.relu(torch.randn(256, 64, generator=g))  # half exact zeros
    rows = torch.randn(64, 16, generator=g)
    assert C.layer_cett(acts, rows, 0.0) == 0.0  # exact zeros cost nothing
    assert C.layer_eps(acts, rows, 0.0) == 0.0  # target 0: the model itself
    last = 0.0
    for target in (0.05, 0.2, 0.5):
        eps = C.layer_eps(acts, rows, target)
        got = C.layer_cett(acts, rows, eps)
        assert target - 0.02 < got <= target
        assert eps > last
        last = eps


def byte_model() -> tuple[nn.Module, A.Anatomy, nn.Module]:
    from actsparse.core.model import ByteGPT
    from tests.conftest import tiny_config

    torch.manual_seed(0)
    model = ByteGPT(tiny_config()).eval()
    return model, A.BYTE, model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    out = {"byte": byte_model()}
    for family in ("llama", "gpt2"):
        lm = L.load(
            source.resolve({"kind": "hf_dir", "path": str(write_tiny(root / family, family))})
        )
        out[family] = (lm.hf, lm.anatomy, lm)  # hooks on the HF model, its forward
    return out


@pytest.mark.parametrize("name", ["byte", "llama", "gpt2"])
def test_truncation_zeroes_more_as_the_target_rises(models, name):
    model, anatomy, forward = models[name]
    g = torch.Generator().manual_seed(1)
    batches = [torch.randint(0, 200, (2, 32), generator=g)]
    cal = C.Calibration(model, anatomy, batches, forward=forward)

    def zeros_and_logits(target: float) -> tuple[float, torch.Tensor]:
        with torch.no_grad(), C.truncated(model, anatomy, cal.thresholds(target)):
            with A.capture(model, anatomy, ("down_in",)) as cap:
                out = forward(batches[0])
                out = out if isinstance(out, torch.Tensor) else out[0]
                share = sum(float((t == 0).float().mean()) for t in cap["down_in"])
        return share / len(cap["down_in"]), out

    with torch.no_grad():
        plain = forward(batches[0])
        plain = plain if isinstance(plain, torch.Tensor) else plain[0]
    z0, out0 = zeros_and_logits(0.0)
    assert z0 == 0.0 and torch.equal(out0, plain)  # a smooth activation: nothing cut at 0
    shares = [zeros_and_logits(t)[0] for t in (0.05, 0.2, 0.5)]
    assert 0 < shares[0] < shares[1] < shares[2] < 1
    with torch.no_grad(), A.capture(model, anatomy, ("down_in",)) as cap:  # hooks gone
        forward(batches[0])
        assert all(float((t == 0).float().mean()) == 0 for t in cap["down_in"])


def test_the_search_finds_the_budget_on_a_known_curve():
    calls = []

    def score(c: float) -> C.Point:  # ce rises linearly with the target; sparsity = target
        calls.append(c)
        return C.Point(cett=c, ce=2.0 + c, act_sparsity=c)

    got = C.sparsity_at_rise(score, dense_ce=2.0, rises=(0.01, 0.05), steps=8, top=0.9)
    for p in (0.01, 0.05):
        allowed = math.log1p(p)
        assert allowed - 0.9 / 2**8 <= got[p].cett <= allowed
        assert got[p].ce <= 2.0 + allowed
    assert len(calls) == len(set(calls)) <= 2 + 2 * 8  # each target scored once


def test_the_search_reports_the_floor_and_the_top():
    past = C.sparsity_at_rise(lambda c: C.Point(c, 9.0, 0.6), dense_ce=2.0, rises=(0.01,))
    assert past[0.01] == C.Point(0.0, 9.0, 0.6)  # already past the budget at CETT 0
    flat = C.sparsity_at_rise(lambda c: C.Point(c, 2.0, c), dense_ce=2.0, rises=(0.01,))
    assert flat[0.01].cett == 0.9  # never past it: the search's top


def test_cett_errors(models):
    model, anatomy, _ = models["byte"]
    with pytest.raises(ValueError, match="at least one batch"):
        C.Calibration(model, anatomy, [])
    cal = C.Calibration(model, anatomy, [torch.randint(0, 200, (1, 16))])
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        cal.thresholds(1.0)
    with pytest.raises(ValueError, match="threshold vectors for 2 layers"):
        with C.truncated(model, anatomy, cal.thresholds(0.1)[:1]):
            pass
    with pytest.raises(ValueError, match="positive fractions"):
        C.sparsity_at_rise(lambda c: C.Point(c, 2.0, c), 2.0, rises=(0.0,))
    with pytest.raises(ValueError, match=r"top must be in \(0, 1\)"):
        C.sparsity_at_rise(lambda c: C.Point(c, 2.0, c), 2.0, top=1.0)
    with pytest.raises(TypeError, match="no down-projection layout known for Identity"):
        C.down_rows(nn.Identity())


def test_cett_rows_of_a_pretrained_model(models):
    from actsparse.pretrained import stages

    lm = models["llama"][2]
    data = ("The quick brown fox jumps over the lazy dog. " * 60).encode()
    val = stages.windows(lm, data, 32, 4)
    calib = stages.windows(lm, data[::-1], 32, 4)
    reference = stages.evaluate(lm, val, 2).ce
    cfg = {"batch_size": 2, "cett": {"rises": [0.01, 0.05], "steps": 3}}
    rows = stages.cett_rows(lm, val, calib, reference, cfg)
    assert [r["rise"] for r in rows] == [0.01, 0.05]
    for r in rows:
        assert r["within"] and r["delta_ce"] <= math.log1p(r["rise"])
        assert r["exact_sparsity"] == 0.0 and r["act_sparsity"] >= 0
        assert r["bpb"] > 0 and 1 <= r["scored"] <= 2 + 2 * 3
    assert rows[1]["act_sparsity"] >= rows[0]["act_sparsity"]


def test_the_cett_figure_draws_a_hand_made_table(tmp_path):
    import pandas as pd

    from actsparse.report.figures import draw

    rows = [
        {"variant": v, "rise": p, "act_sparsity": a, "exact_sparsity": e, "within": w}
        for v, e, w in (("dense", 0.0, True), ("hard_swap", 0.6, False))
        for p, a in ((0.01, e + 0.1), (0.05, e + 0.2))
    ]
    paths = [tmp_path / "cett.png", tmp_path / "cett.pdf"]
    draw("cett", {"cett": pd.DataFrame(rows)}, paths, 60)
    assert all(p.stat().st_size > 0 for p in paths)
