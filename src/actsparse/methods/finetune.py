"""The fine-tune recipe every method shares, and its compute-matched control.

A method changes a trained model (activation swap, L1, pruning masks) and fine-tunes it;
each reports its whole trajectory against the dense model's `ce` on the same fixed
validation windows (step 0 is the model right after the change, before any update), and
`delta_ce_matched` against the dense model fine-tuned with the same budget on the same
batches, so what the dense model would have gained from the extra steps anyway is not
credited to sparsity.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from actsparse.core.evaluate import EvalResult, evaluate, window_starts
from actsparse.core.model import ByteGPT
from actsparse.core.train import Regulariser, RunContext, TrainConfig, train
from actsparse.report.tables import read_table, table_params


def quality(ce: float, ce_dense: float) -> dict[str, float]:
    """`ce` with its `delta_ce` and `rel_ce` against the dense baseline."""
    return {"ce": ce, "delta_ce": ce - ce_dense, "rel_ce": (ce - ce_dense) / ce_dense}


def layer_rows(ev: EvalResult, step: int) -> list[dict[str, Any]]:
    return [
        {"row_type": "layer", "step": step, "layer": i, "act_sparsity": s}
        for i, s in enumerate(ev.act_sparsity_per_layer)
    ]


def val_eval(model: ByteGPT, val: np.ndarray, tcfg: TrainConfig) -> EvalResult:
    starts = window_starts(len(val), model.context, tcfg.eval_windows)
    device = next(model.parameters()).device
    return evaluate(model, val, starts, model.context, tcfg.eval_batch_size, device)


def finetune(
    model: ByteGPT,
    splits: dict[str, np.ndarray],
    tcfg: TrainConfig,
    ce_dense: float,
    regulariser: Regulariser | None = None,
    run: RunContext = RunContext(),
) -> list[dict[str, Any]]:
    """Fine-tune in place; rows: the trajectory from step 0, then per-layer sparsity at the end."""
    start = val_eval(model, splits["val"], tcfg)
    rows = [
        {
            "row_type": "curve",
            "step": 0,
            "act_sparsity": start.act_sparsity,
            **quality(start.ce, ce_dense),
        }
    ]
    result = train(model, splits["train"], splits["val"], tcfg, run, regulariser)
    for r in result.curve:
        rows.append(
            {
                "row_type": "curve",
                "step": r["step"],
                "act_sparsity": r["act_sparsity"],
                "train_ce": r["train_ce"],
                **quality(r["ce"], ce_dense),
            }
        )
    rows += layer_rows(result.final_val, tcfg.steps)
    return rows


def finetune_after(
    model: ByteGPT,
    splits: dict[str, np.ndarray],
    tcfg: TrainConfig,
    change: Callable[[ByteGPT], None] | None = None,
    regulariser: Regulariser | None = None,
    run: RunContext = RunContext(),
) -> tuple[float, list[dict[str, Any]]]:
    """Every fine-tune stage's recipe: measure the unchanged model's ce (the baseline of
    every delta), apply `change` in place (activation swap, masks, ...), fine-tune.

    Returns that baseline ce and the rows; step 0 of the rows is the changed model."""
    ce_dense = val_eval(model, splits["val"], tcfg).ce
    if change is not None:
        change(model)
    rows = finetune(model, splits, tcfg, ce_dense, regulariser, run)
    return ce_dense, rows


# The hyper-parameters that define a fine-tune's budget: a control matches only if all agree.
BUDGET_KEYS = (
    "steps",
    "batch_size",
    "lr",
    "warmup_steps",
    "min_lr_frac",
    "weight_decay",
    "grad_clip",
    "eval_every",
    "precision",
)


def add_matched(
    rows: list[dict[str, Any]],
    control_path: str | Path,
    budget: dict[str, Any],
    budget_at: tuple[str, ...] = ("relufy",),
) -> list[dict[str, Any]]:
    """`delta_ce_matched` on every curve and final row: ce minus the compute-matched dense
    control's ce at the same step. The control is the dense GELU model fine-tuned with the
    same budget on the same batches (batches are a function of seed and step), so what the
    dense model would have gained from the extra steps anyway is not credited to sparsity.
    A fine-tune whose budget differs from the control's gets no matched value.

    control_path: the control's table; its budget is the config section at `budget_at` in
    the params it ran with (`relufy`; a pretrained model's: pretrained.relufy).
    """
    control_budget = table_params(control_path)
    for key in budget_at:
        control_budget = control_budget[key]
    if any(budget.get(k) != control_budget.get(k) for k in BUDGET_KEYS):
        print(
            f"no delta_ce_matched: budget differs from the control's {control_budget}",
            file=sys.stderr,
        )
        return rows
    control = read_table(control_path)
    curve = control[control.row_type == "curve"]
    ce_at = dict(zip(curve.step.astype(int), curve.ce, strict=True))
    return [
        {**r, "delta_ce_matched": r["ce"] - ce_at[r["step"]]}
        if r.get("row_type") in ("curve", "final") and r.get("step") in ce_at
        else r
        for r in rows
    ]
