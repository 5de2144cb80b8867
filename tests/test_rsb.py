"""RSB analyses on hand-made activation patterns and tiny models: aggregated sparsity, the
speculative decoding formulas, pre-activation histograms."""

import numpy as np
import pytest
import torch

from actsparse.analysis.aggregated import active_sets, aggregated_rows, unused_after, window_unused
from actsparse.analysis.preact import histogram_rows, preactivations, quantile_shift
from actsparse.analysis.speculative_theory import (
    formula_rows,
    speedup_vs_autoregressive,
    speedup_vs_standard,
)
from actsparse.core.model import ByteGPT
from tests.conftest import tiny_config


def test_unused_after_counts_neurons_never_active_so_far():
    active = torch.zeros(1, 3, 4, dtype=torch.bool)
    active[0, 0, 0] = True  # byte 1 uses neuron 0
    active[0, 1, 0] = True  # byte 2 reuses it
    active[0, 2, 1] = True  # byte 3 uses neuron 1
    assert unused_after(active).tolist() == [0.75, 0.75, 0.5]


def test_reuse_stays_above_the_random_baseline():
    # every byte uses the same 2 of 8 neurons: s = 0.75, random s^t falls, observed stays
    active = torch.zeros(2, 16, 8, dtype=torch.bool)
    active[:, :, :2] = True
    rows = aggregated_rows([active])
    at = {(r["kind"], r["t"]): r["unused_frac"] for r in rows}
    assert at[("observed", 16)] == 0.75
    assert at[("random", 16)] == pytest.approx(0.75**16)


def test_window_unused_and_its_bounds():
    active = torch.zeros(1, 8, 4, dtype=torch.bool)
    active[0, ::2, 0] = True
    active[0, 1::2, 1] = True  # alternating neurons: a window of 2 uses both
    assert window_unused(active, 1) == 0.75
    assert window_unused(active, 2) == 0.5
    with pytest.raises(ValueError, match="exceeds the context"):
        window_unused(active, 9)


def test_theorems_reduce_to_the_known_cases():
    assert speedup_vs_standard(0.02, 16, 0.0) == 1.0  # no sparsity, no gain
    # s_agg = 0.5 at c gamma = 0.32: (1.32) / (0.82)
    assert speedup_vs_standard(0.02, 16, 0.5) == pytest.approx(1.32 / 0.82)
    # gamma 0: one target pass per byte, no draft: plain autoregressive decoding
    assert speedup_vs_autoregressive(0.02, 0, 0.0, 0.8) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="alpha"):
        speedup_vs_autoregressive(0.02, 4, 0.0, 1.0)


def test_formula_rows_mark_one_optimal_gamma_per_kind_c_alpha():
    s_agg = {
        "observed": {g: 0.9 / g for g in range(1, 33)},
        "random": {g: 0.9**g for g in range(1, 33)},
    }
    rows = formula_rows(s_agg, [0.02], [0.6, 0.8], down_share=0.3)
    for kind in ("aggregated", "random", "standard", "aggregated_down"):
        for alpha in (0.6, 0.8):
            block = [r for r in rows if r["kind"] == kind and r["alpha"] == alpha]
            assert len(block) == 32 and sum(r["optimal"] for r in block) == 1
    assert all(r["speedup_vs_standard"] == 1.0 for r in rows if r["kind"] == "standard")
    down = {r["gamma"]: r for r in rows if r["kind"] == "aggregated_down" and r["alpha"] == 0.8}
    full = {r["gamma"]: r for r in rows if r["kind"] == "aggregated" and r["alpha"] == 0.8}
    assert down[1]["s_agg"] == pytest.approx(0.3 * full[1]["s_agg"])
    assert 1.0 < down[1]["speedup_vs_standard"] < full[1]["speedup_vs_standard"]


def test_active_sets_match_the_relu_zeros(byte_stream):
    torch.manual_seed(0)
    model = ByteGPT(tiny_config())
    model.set_activation("relu")
    active = active_sets(model, byte_stream, [0, 100, 200], batch=2)
    assert len(active) == model.cfg.n_layer
    assert active[0].shape == (3, model.cfg.block_size, model.cfg.ffn_width)
    assert 0.0 < float(active[0].float().mean()) < 1.0


def test_preact_histograms_integrate_to_one_and_the_shift_rule(byte_stream):
    torch.manual_seed(0)
    model = ByteGPT(tiny_config())
    values = preactivations(model, byte_stream, [0, 50])
    rows = histogram_rows(values, -3.0, 3.0, 30)
    layer0 = [r for r in rows if r["layer"] == 0]
    width = np.array([r["bin_hi"] - r["bin_lo"] for r in layer0])
    assert float((np.array([r["density"] for r in layer0]) * width).sum()) == pytest.approx(1.0)
    b = quantile_shift(values, 0.9)
    pooled = torch.cat(values)
    assert float((pooled <= b).float().mean()) == pytest.approx(0.9, abs=0.01)
