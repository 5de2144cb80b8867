"""From-scratch controls: a fresh model trained with the variant's activation (GELU, ReLU,
ReLU + L1, or x * sigmoid(beta x) for RSB's activation family) at one shared budget.

They separate what relufication does from what the activation does: the seed's +0.008 is
ReLU + L1 against GELU, both from scratch, and RSB Fig. 2 is the family over beta.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from actsparse.core.model import ByteGPT, ModelConfig
from actsparse.core.train import RunContext, TrainConfig, train
from actsparse.methods.finetune import layer_rows
from actsparse.methods.schedules import ScheduledL1


def train_scratch(
    cfg: dict[str, Any],
    variant: dict[str, Any],
    splits: dict[str, np.ndarray],
    run: RunContext = RunContext(),
    section: str = "scratch",
) -> tuple[ByteGPT, list[dict[str, Any]]]:
    """Train the variant for the budget of config section `section`. `delta_ce` is left to
    readers, who compare variants at the same budget."""
    torch.manual_seed(cfg["seed"])
    arch = {**cfg["model"], "activation": variant["activation"]}
    if "beta" in variant:  # x * sigmoid(beta x): the activation family
        arch["act_beta"] = variant["beta"]
    model = ByteGPT(ModelConfig.from_dict(arch))
    tcfg = TrainConfig.for_stage(cfg, section)
    lam = variant.get("lam", 0.0)
    reg = ScheduledL1.constant(lam) if lam > 0 else None
    result = train(model, splits["train"], splits["val"], tcfg, run, reg)
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


def family_variant(beta: float) -> dict[str, Any]:
    """The activation-family member x * sigmoid(beta x) as a scratch variant."""
    return {"name": f"beta{beta:g}", "activation": "xsigmoid", "beta": beta}
