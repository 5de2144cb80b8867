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
from collections.abc import Mapping
from typing import Any

import pandas as pd

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
    lm.context = p["context"]
    tcfg = train_config(cfg)
    tokens = {k: text.tokenize(lm.tokenizer, v) for k, v in data.items()}
    splits = {k: t.ids for k, t in tokens.items()}
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
    starts = text.window_starts(len(splits["val"]), lm.context, tcfg.eval_windows)
    per_token = text.bytes_per_token(tokens["val"], starts, lm.context)
    return [
        {
            "model": lm.origin,
            **r,
            **({"bpb": r["ce"] / per_token / math.log(2)} if "ce" in r else {}),
        }
        for r in rows
    ]


def mark_end_points(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """end_point: the rows report.tables.end_points picks (each variant's final row, else
    its last curve row), as a column, so a claim can ask for "the sparsest end point
    within a budget" without knowing the configured step count."""
    ends = end_points(pd.DataFrame(rows))
    keys = set(zip(ends.variant, ends.row_type, ends.step, strict=True))
    return [{**r, "end_point": (r["variant"], r["row_type"], r["step"]) in keys} for r in rows]
