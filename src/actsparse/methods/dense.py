"""The dense baseline stage: train the GELU model, evaluate it, and set it beside
real compressors on the same test bytes (the external yardstick)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from actsparse.core.checkpoint import save_model
from actsparse.core.compressors import reference_bpb
from actsparse.core.config import config_hash
from actsparse.core.evaluate import EvalResult, evaluate, window_starts
from actsparse.core.model import ByteGPT, ModelConfig
from actsparse.core.train import RunContext, TrainConfig, TrainResult, train


def eval_row(split: str, ev: EvalResult, train_result: TrainResult) -> dict[str, Any]:
    return {
        "variant": "dense",
        "row_type": "eval",
        "split": split,
        "ce": ev.ce,
        "bpb": ev.bpb,
        "act_sparsity": ev.act_sparsity,
        "n_bytes": ev.n_bytes,
        "bytes_per_s": ev.bytes_per_s,
        "train_bytes_per_s": train_result.train_bytes_per_s,
        "wall_s": train_result.train_wall_s,
    }


def train_dense(
    cfg: dict[str, Any],
    splits: dict[str, np.ndarray],
    model_path: str | Path,
    checkpoint_path: str | Path | None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train, save the model, and return the rows of the train_dense table."""
    td = cfg["train_dense"]
    torch.manual_seed(cfg["seed"])
    model = ByteGPT(ModelConfig.from_dict(cfg["model"]))
    tcfg = TrainConfig.from_dict(td, seed=cfg["seed"], device=cfg["device"])
    run = RunContext(checkpoint_path, config_hash(cfg), progress)
    result = train(model, splits["train"], splits["val"], tcfg, run)
    context = model.cfg.block_size
    device = next(model.parameters()).device
    test_starts = window_starts(len(splits["test"]), context, td["test_windows"])
    test = evaluate(model, splits["test"], test_starts, context, td["eval_batch_size"], device)
    save_model(
        model,
        model_path,
        {"variant": "dense", "config_hash": config_hash(cfg), "seed": cfg["seed"]},
    )

    rows: list[dict[str, Any]] = [
        {"variant": "dense", "row_type": "curve", "split": "val", "bpb": r["ce"] / np.log(2), **r}
        for r in result.curve
    ]
    rows += [eval_row("val", result.final_val, result), eval_row("test", test, result)]
    for ref in reference_bpb(splits["test"].tobytes()):
        rows.append(
            {
                "variant": ref.name,
                "row_type": "reference",
                "split": "test",
                "bpb": ref.bpb,
                "ce": ref.bpb * np.log(2),
                "n_bytes": ref.n_bytes,
                "compressed_bytes": ref.compressed_bytes,
                "wall_s": ref.wall_s,
                "bytes_per_s": ref.n_bytes / ref.wall_s,
            }
        )
    return rows
