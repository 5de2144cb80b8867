"""Relufication: swap the trained model's GELU for ReLU and fine-tune it with an L1 penalty
on the post-activation values (constant or ramped, see schedules), optionally holding
pruning masks (the combined stage), then optionally a FATReLU threshold.

The swap alone is the catastrophe (the hard swap); the fine-tune teaches the model to put
its zeros in the right places, which the seed found takes only a few hundred steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from actsparse.finetune import L1Penalty, finetune_after, layer_rows, quality, val_eval
from actsparse.model import ByteGPT, ModelConfig
from actsparse.schedules import L1Schedule, ScheduledL1
from actsparse.train import TrainConfig, train


def relufy_finetune(
    model: ByteGPT,
    splits: dict[str, np.ndarray],
    tcfg: TrainConfig,
    schedule: L1Schedule,
    masks: dict[str, torch.Tensor] | None = None,
    ckpt_path: str | Path | None = None,
    run_id: str = "",
    progress: bool = True,
) -> tuple[float, list[dict[str, Any]]]:
    """In place: dense GELU model -> ReLU (+ masks) fine-tuned with lambda(step) * mean|a|.

    Returns the dense model's ce (the baseline of every delta) and the fine-tune's rows."""

    def swap(m: ByteGPT) -> None:
        if masks:
            m.set_masks(masks)
        m.set_activation("relu")

    reg = ScheduledL1(schedule, tcfg.steps) if schedule.peak > 0 else None
    return finetune_after(model, splits, tcfg, swap, reg, ckpt_path, run_id, progress)


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


def train_scratch(
    cfg: dict[str, Any],
    variant: dict[str, Any],
    splits: dict[str, np.ndarray],
    ckpt_path: str | Path | None = None,
    run_id: str = "",
    progress: bool = True,
    section: str = "scratch",
) -> tuple[ByteGPT, list[dict[str, Any]]]:
    """The from-scratch control: a fresh model with the variant's activation (and L1, and
    beta for xsigmoid), trained for the budget of config section `section`. `delta_ce` is
    left to readers, who compare variants at the same budget (the seed's +0.008 is
    ReLU + L1 against GELU, both from scratch)."""
    torch.manual_seed(cfg["seed"])
    arch = {**cfg["model"], "activation": variant["activation"]}
    if "beta" in variant:  # x * sigmoid(beta x): the activation family
        arch["act_beta"] = variant["beta"]
    model = ByteGPT(ModelConfig.from_dict(arch))
    tcfg = TrainConfig.for_stage(cfg, section)
    lam = variant.get("lam", 0.0)
    reg = L1Penalty(lam) if lam > 0 else None
    result = train(model, splits["train"], splits["val"], tcfg, ckpt_path, run_id, reg, progress)
    rows: list[dict[str, Any]] = [
        {
            "row_type": "curve",
            "step": r["step"],
            "ce": r["ce"],
            "train_ce": r["train_ce"],
            "act_sparsity": r["act_sparsity"],
        }
        for r in result.curve
    ]
    final = result.final_val
    rows.append(
        {
            "row_type": "final",
            "step": tcfg.steps,
            "ce": final.ce,
            "act_sparsity": final.act_sparsity,
        }
    )
    rows += layer_rows(final, tcfg.steps)
    base = {"variant": variant["name"], "activation": variant["activation"], "lam": lam}
    if "beta" in variant:
        base["beta"] = variant["beta"]
    return model, [{**base, **r} for r in rows]
