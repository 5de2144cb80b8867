"""Retrofitting sparsity onto a trained dense model, without retraining, and why it fails.

Three measurements on the finished GELU model: how its activations are naturally spread
(`natural_stats`), zeroing its small GELU outputs at inference (`magnitude_gate`), and
swapping GELU for ReLU (`hard_swap` in the stage). The seed logs both retrofits as refuted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch

from actsparse.core.evaluate import evaluate, windows_tensor
from actsparse.core.model import ByteGPT, capture
from actsparse.methods.finetune import layer_rows, quality
from actsparse.metrics.flops import dense_flops
from actsparse.metrics.sparsity import energy_curve, energy_width, frac_active_tau


@contextmanager
def magnitude_gate(model: ByteGPT, tau: float) -> Iterator[None]:
    """Inside the block, every FFN activation with |a| < tau is set to exactly zero.

    A forward hook that returns a tensor replaces the module's output, and hooks run in
    registration order, so a capture opened inside this block sees the gated values.
    """
    handles = [
        b.mlp.act.register_forward_hook(lambda m, args, out: out * (out.abs() >= tau))
        for b in model.h
    ]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def natural_stats(
    model: ByteGPT,
    data: np.ndarray,
    starts: np.ndarray,
    taus: Sequence[float],
    width_fracs: torch.Tensor,
    batch_size: int = 32,
) -> tuple[list[dict], list[dict]]:
    """Per layer: frac_active_tau for each tau, energy95_width, and the energy curve.

    Returns (layer rows, energy-curve rows). Statistics are averaged over batches of
    windows weighted by their byte count, so they equal the whole-set value.
    """
    model.eval()
    n_layer, context = len(model.h), model.cfg.block_size
    active = np.zeros((n_layer, len(taus)))
    e95 = np.zeros(n_layer)
    curve = torch.zeros(n_layer, len(width_fracs), dtype=torch.float64)
    total = 0
    with capture(model, ("ffn_post",)) as acts:
        for i in range(0, len(starts), batch_size):
            w = windows_tensor(data, starts[i : i + batch_size], context)
            model(w[:, :-1])
            n = w[:, :-1].numel()
            total += n
            for layer, a in enumerate(acts["ffn_post"]):
                active[layer] += [n * frac_active_tau(a, t) for t in taus]
                e95[layer] += n * energy_width(a, 0.95)
                curve[layer] += n * energy_curve(a, width_fracs)
    layer_rows = []
    for layer in range(n_layer):
        for j, tau in enumerate(taus):
            layer_rows.append(
                {
                    "layer": layer,
                    "tau": float(tau),
                    "frac_active_tau": active[layer, j] / total,
                    "energy95_width": e95[layer] / total,
                }
            )
    curve_rows = [
        {"layer": layer, "width_frac": float(f), "energy_frac": float(curve[layer, k] / total)}
        for layer in range(n_layer)
        for k, f in enumerate(width_fracs)
    ]
    return layer_rows, curve_rows


def dense_stats_rows(
    model: ByteGPT, data: np.ndarray, starts: np.ndarray, taus: Sequence[float], points: int
) -> list[dict]:
    """The dense_stats table: per layer, their mean (layer null), and the energy curve."""
    layer, curve = natural_stats(model, data, starts, taus, torch.linspace(0, 1, points))
    means = []
    for tau in taus:
        at = [r for r in layer if r["tau"] == float(tau)]
        means.append(
            {
                "row_type": "mean",
                "tau": float(tau),
                "frac_active_tau": float(np.mean([r["frac_active_tau"] for r in at])),
                "energy95_width": float(np.mean([r["energy95_width"] for r in at])),
            }
        )
    return (
        [{"row_type": "layer", **r} for r in layer]
        + means
        + [{"row_type": "energy_curve", **r} for r in curve]
    )


def naive_gating_row(
    model: ByteGPT, data: np.ndarray, starts: np.ndarray, tau: float, max_rel_ce: float
) -> dict:
    """Gate the GELU outputs at tau and measure what is saved and what it costs.

    Every exact zero lets a kernel skip one row of the down projection, so the share of
    the down projection saved is the exact-zero fraction after gating.
    """
    context = model.cfg.block_size
    ce_dense = evaluate(model, data, starts, context).ce
    with magnitude_gate(model, tau):
        ev = evaluate(model, data, starts, context)
    fl = dense_flops(model.cfg)
    rel_ce = (ev.ce - ce_dense) / ce_dense
    return {
        "variant": f"gate_tau{tau:g}",
        "tau": tau,
        "ce": ev.ce,
        "delta_ce": ev.ce - ce_dense,
        "rel_ce": rel_ce,
        "act_sparsity": ev.act_sparsity,
        "down_flops_saved": ev.act_sparsity,
        "model_flops_saved": ev.act_sparsity * fl.ffn_down / fl.total,
        "max_rel_ce": max_rel_ce,
        "within_budget": rel_ce <= max_rel_ce,
    }


def hard_swap_rows(model: ByteGPT, data: np.ndarray, starts: np.ndarray, activation: str) -> list:
    """Swap GELU for `activation` in place, no retraining: the final row and per-layer rows."""
    context = model.cfg.block_size
    ce_dense = evaluate(model, data, starts, context).ce
    model.set_activation(activation)
    ev = evaluate(model, data, starts, context)
    base = {"variant": f"hard_swap_{activation}", "activation": activation, "step": 0}
    rows = [
        {**base, "row_type": "final", "act_sparsity": ev.act_sparsity, **quality(ev.ce, ce_dense)}
    ]
    return rows + [{**base, **r} for r in layer_rows(ev, 0)]
