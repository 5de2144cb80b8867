"""Relufication of a pretrained model (RSB stage 1: the gate's SiLU -> ReLU, fine-tuned,
with ProSparse's L1 on the gate output at a constant or ramped strength) and its
compute-matched control (the SiLU model fine-tuned on the same batches with the same
budget), through the byte model's own recipe (methods.finetune, methods.relufy): one
training loop, one L1 schedule, one matched delta, whichever model it is.

Rows are the relufy table's (a trajectory from step 0, per-layer sparsity at the end,
FATReLU end points), with ce per token and bpb beside it (the windows' bytes per token is
fixed, so bpb = ce / bytes_per_token / ln 2 on every row).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from actsparse.analysis.preact import quantile_shift
from actsparse.core.train import RunContext, TrainConfig
from actsparse.methods.finetune import finetune_after
from actsparse.methods.relufy import relufy_finetune, relufy_rows
from actsparse.methods.schedules import L1Schedule
from actsparse.pretrained import text
from actsparse.pretrained.lm import PretrainedLM
from actsparse.report.tables import end_points


def train_config(cfg: Mapping[str, Any]) -> TrainConfig:
    """The fine-tune budget: pretrained.relufy's hyper-parameters, evaluated on the
    pretrained stages' fixed validation windows."""
    p = cfg["pretrained"]
    return TrainConfig.from_dict(
        p["relufy"],
        seed=cfg["seed"],
        device=cfg["device"],
        eval_windows=p["eval_windows"],
        eval_batch_size=p["batch_size"],
    )


def prepare(
    lm: PretrainedLM, data: Mapping[str, bytes], cfg: Mapping[str, Any]
) -> tuple[TrainConfig, dict[str, text.TokenText], dict[str, np.ndarray]]:
    """Every pretrained fine-tune's start: the model's window set, the budget, and the
    splits through its tokenizer (the token text for bpb, the ids for training)."""
    lm.context = cfg["pretrained"]["context"]
    tokens = {k: text.tokenize(lm.tokenizer, v) for k, v in data.items()}
    return train_config(cfg), tokens, {k: t.ids for k, t in tokens.items()}


def finetune_rows(
    lm: PretrainedLM,
    data: Mapping[str, bytes],
    cfg: Mapping[str, Any],
    schedule: L1Schedule | None,
    run: RunContext = RunContext(),
) -> list[dict[str, Any]]:
    """Fine-tune in place: relufied with `schedule`, or (None) the matched SiLU control.
    data: the train and val splits' bytes."""
    p = cfg["pretrained"]
    tcfg, tokens, splits = prepare(lm, data, cfg)
    if schedule is None:
        base = {"activation": lm.activation}
        _, rows = finetune_after(lm, splits, tcfg, run=run)
        rows = [{"variant": "control", **base, **r} for r in rows]
    else:
        base = {
            "activation": "relu",
            "lam": schedule.peak,
            "schedule": schedule.name,
            "ramp": schedule.ramp,
        }
        ce_dense, rows = relufy_finetune(lm, splits, tcfg, schedule, run=run)
        fat = (splits["val"], tcfg, p["relufy"]["fat_thresholds"], ce_dense)
        rows = relufy_rows(lm, rows, f"relufy_{schedule.name}", base, fat)
        rows = mark_end_points(rows)
    return with_bpb(lm, rows, tokens["val"], tcfg)


def with_bpb(
    lm: PretrainedLM, rows: list[dict[str, Any]], val: text.TokenText, tcfg: TrainConfig
) -> list[dict[str, Any]]:
    """The model's origin and bpb beside each row's ce (per token)."""
    starts = text.window_starts(len(val.ids), lm.context, tcfg.eval_windows)
    per_token = text.bytes_per_token(val, starts, lm.context)
    return [
        {
            "model": lm.origin,
            **r,
            **({"bpb": r["ce"] / per_token / math.log(2)} if "ce" in r else {}),
        }
        for r in rows
    ]


# RSB's other relufications, each from the dense model with the stage-1 budget and no L1
# (as the byte model's stage2 and shifted_relu stages): stage 2 (a ReLU after both norms
# too), dReLU (TurboSparse: a ReLU on the up projection too), shifted ReLU (ReLU(x - b)).
RSB_VARIANTS = ("stage2", "drelu", "shifted_relu")


def rsb_change(kind: str, shift: float = 0.0) -> Callable[[PretrainedLM], None]:
    """What a variant does to the dense model before its fine-tune."""
    if kind not in RSB_VARIANTS:
        raise ValueError(f"unknown relufication variant {kind!r}; known: {RSB_VARIANTS}")

    def change(lm: PretrainedLM) -> None:
        if kind == "shifted_relu":
            lm.set_activation("shifted_relu", shift=shift)
            return
        lm.set_activation("relu")
        if kind == "stage2":
            lm.set_norm_relu(True)
        else:
            lm.set_up_relu(True)

    return change


@torch.no_grad()
def gate_shift(lm: PretrainedLM, val: np.ndarray, windows: int, target: float) -> float:
    """b such that ReLU(x - b) zeroes `target` of the dense gate's pre-activations on
    `windows` validation windows (all layers pooled), the byte model's documented rule."""
    starts = text.window_starts(len(val), lm.context, windows)
    batch = torch.from_numpy(np.stack([val[s : s + lm.context] for s in starts]))
    with lm.capture(("ffn_pre",)) as cap:
        lm(batch)
        return quantile_shift([t.flatten().float() for t in cap["ffn_pre"]], target)


def variant_rows(
    lm: PretrainedLM,
    data: Mapping[str, bytes],
    cfg: Mapping[str, Any],
    kind: str,
    shift: float = 0.0,
    run: RunContext = RunContext(),
) -> list[dict[str, Any]]:
    """Fine-tune in place after `rsb_change(kind, shift)`: the trajectory from step 0, with
    bpb; the rows of the pretrained_relufy table's shape."""
    tcfg, tokens, splits = prepare(lm, data, cfg)
    _, rows = finetune_after(lm, splits, tcfg, rsb_change(kind, shift), None, run)
    base = {"variant": kind, "activation": lm.activation, "lam": 0.0, "shift": shift}
    return with_bpb(lm, mark_end_points([{**base, **r} for r in rows]), tokens["val"], tcfg)


def mark_end_points(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """end_point: the rows report.tables.end_points picks (each variant's final row, else
    its last curve row), as a column, so a claim can ask for "the sparsest end point
    within a budget" without knowing the configured step count."""
    ends = end_points(pd.DataFrame(rows))
    keys = set(zip(ends.variant, ends.row_type, ends.step, strict=True))
    return [{**r, "end_point": (r["variant"], r["row_type"], r["step"]) in keys} for r in rows]
