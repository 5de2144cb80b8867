"""Relufication: make a trained model's FFN exactly sparse by swapping its activation for a
ReLU-type one and fine-tuning it.

- Seed 000 / RSB stage 1: GELU -> ReLU, fine-tuned with an L1 penalty on the
  post-activation values (constant or ramped, see schedules), optionally holding pruning
  masks (the combined stage), then optionally a FATReLU threshold on the result.
- RSB stage 2: also a ReLU after the norms that feed QKV and the up projection, so those
  projections can skip the columns of their zero inputs too (RSB: QKV inputs stay less
  sparse than the FFN's).
- RSB shifted ReLU: ReLU(x - b), b chosen from the pre-activation distribution.

The swap alone is the catastrophe (the hard swap); the fine-tune teaches the model to put
its zeros in the right places, which the seed found takes only a few hundred steps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from actsparse.core.evaluate import activations_on, window_starts
from actsparse.core.model import ByteGPT
from actsparse.core.train import RunContext, TrainConfig
from actsparse.core.variants import fat_variant
from actsparse.methods.finetune import finetune_after, quality, val_eval
from actsparse.methods.schedules import L1Schedule, ScheduledL1
from actsparse.metrics.flops import dense_flops, input_sparse_flops
from actsparse.metrics.sparsity import mean_exact_zero_fraction


def relufy_finetune(
    model: ByteGPT,
    splits: dict[str, np.ndarray],
    tcfg: TrainConfig,
    schedule: L1Schedule,
    masks: dict[str, torch.Tensor] | None = None,
    run: RunContext = RunContext(),
) -> tuple[float, list[dict[str, Any]]]:
    """In place: dense GELU model -> ReLU (+ masks) fine-tuned with lambda(step) * mean|a|.

    Returns the dense model's ce (the baseline of every delta) and the fine-tune's rows."""

    def swap(m: ByteGPT) -> None:
        if masks:
            m.set_masks(masks)
        m.set_activation("relu")

    reg = ScheduledL1(schedule, tcfg.steps) if schedule.peak > 0 else None
    return finetune_after(model, splits, tcfg, swap, reg, run)


def fatrelu_rows(
    model: ByteGPT,
    val: np.ndarray,
    tcfg: TrainConfig,
    thresholds: list[float],
    ce_dense: float,
) -> list[dict[str, Any]]:
    """The fine-tuned ReLU model with FATReLU(T) swapped in, no further training, per T.

    Each T is its own end point ("final" row at the last step), so it sits on the frontier
    beside the plain model; the model is left as it came (plain ReLU).
    """
    rows = []
    for t in thresholds:
        model.set_activation("fatrelu", shift=t)
        ev = val_eval(model, val, tcfg)
        rows.append(
            {
                "row_type": "final",
                "step": tcfg.steps,
                "fat_threshold": t,
                "act_sparsity": ev.act_sparsity,
                **quality(ev.ce, ce_dense),
            }
        )
    model.set_activation("relu")
    return rows


def relufy_rows(
    model: ByteGPT,
    rows: list[dict[str, Any]],
    variant: str,
    base: dict[str, Any],
    fat: tuple[np.ndarray, TrainConfig, list[float], float] | None = None,
) -> list[dict[str, Any]]:
    """A relufied model's rows under its variant name and descriptive columns, then one
    end point per FATReLU threshold (`fat`: val bytes, budget, thresholds, dense ce), each
    a variant of its own (`<variant>_fat<T>`)."""
    out = [{"variant": variant, **base, **r} for r in rows]
    if fat is not None:
        for r in fatrelu_rows(model, *fat):
            t = r["fat_threshold"]
            out.append({"variant": fat_variant(variant, t), **base, "activation": "fatrelu", **r})
    return out


def rel_ppl(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with its relative perplexity change exp(delta_ce) - 1 (the seed's unit)."""
    return [{**r, "rel_ppl": math.expm1(r["delta_ce"]) if "delta_ce" in r else None} for r in rows]


@torch.no_grad()
def input_sparsity(model: ByteGPT, val: np.ndarray, starts: list[int]) -> dict[str, float]:
    """Exact-zero fraction at the inputs of the QKV, up and down projections (all layers)."""
    acts = activations_on(model, val, starts, ("qkv_in", "up_in", "ffn_post"))
    return {
        "qkv_in_sparsity": mean_exact_zero_fraction(acts["qkv_in"]),
        "up_in_sparsity": mean_exact_zero_fraction(acts["up_in"]),
        "down_in_sparsity": mean_exact_zero_fraction(acts["ffn_post"]),
    }


def stage_row(
    model: ByteGPT, val: np.ndarray, starts: list[int], tcfg: TrainConfig, ce_dense: float
) -> dict[str, Any]:
    """One stage's end point: input sparsities, FLOPs per byte (input-sparse), quality."""
    s = input_sparsity(model, val, starts)
    flops = input_sparse_flops(
        model.cfg, s["qkv_in_sparsity"], s["up_in_sparsity"], s["down_in_sparsity"]
    )
    ev = val_eval(model, val, tcfg)
    return {
        "row_type": "final",
        "step": tcfg.steps,
        **s,
        "flops_per_byte": flops,
        "flops_frac_of_dense": flops / dense_flops(model.cfg).total,
        "act_sparsity": ev.act_sparsity,
        **quality(ev.ce, ce_dense),
    }


def stage2_finetune(
    model: ByteGPT,
    splits: dict[str, np.ndarray],
    tcfg: TrainConfig,
    run: RunContext = RunContext(),
) -> tuple[float, list[dict[str, Any]]]:
    """In place: dense GELU model -> ReLU FFN + ReLU after both norms, fine-tuned (no L1)."""

    def swap(m: ByteGPT) -> None:
        m.set_activation("relu")
        m.set_norm_relu(True)

    return finetune_after(model, splits, tcfg, swap, None, run)


def stage2_rows(
    stage2: ByteGPT,
    stage1: ByteGPT,
    rows: list[dict[str, Any]],
    val: np.ndarray,
    windows: int,
    tcfg: TrainConfig,
    ce_dense: float,
) -> list[dict[str, Any]]:
    """RSB Table 1: the stage-2 fine-tune's trajectory, then both stages' end points (input
    sparsities and FLOPs) on the same `windows` validation windows."""
    starts = list(window_starts(len(val), stage2.cfg.block_size, windows))
    out = [{"variant": "stage2", **r} for r in rows]
    out.append({"variant": "stage2", **stage_row(stage2, val, starts, tcfg, ce_dense)})
    out.append({"variant": "stage1", **stage_row(stage1, val, starts, tcfg, ce_dense)})
    return out


def shifted_finetune(
    model: ByteGPT,
    splits: dict[str, np.ndarray],
    tcfg: TrainConfig,
    shift: float,
    run: RunContext = RunContext(),
) -> tuple[float, list[dict[str, Any]]]:
    """In place: dense GELU model -> ReLU(x - shift), fine-tuned like the plain ReLU (no L1)."""

    def swap(m: ByteGPT) -> None:
        m.set_activation("shifted_relu", shift=shift)

    return finetune_after(model, splits, tcfg, swap, None, run)
