"""RSB relufication beyond the FFN activation: stage 2 (ReLU after the norms that feed QKV
and the up projection) and shifted ReLU, and the input sparsity of every projection.

Stage 1 (the FFN activation -> ReLU) is the plain relufy fine-tune (lam 0). Stage 2 makes
the inputs of the QKV and up projections sparse as well, so those projections can skip
columns too; RSB reports that QKV inputs stay less sparse than the FFN's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from actsparse.evaluate import windows_tensor
from actsparse.finetune import finetune_after, quality, val_eval
from actsparse.flops import dense_flops, input_sparse_flops
from actsparse.model import ByteGPT, capture
from actsparse.train import TrainConfig


@torch.no_grad()
def input_sparsity(model: ByteGPT, val: np.ndarray, starts: list[int]) -> dict[str, float]:
    """Exact-zero fraction at the inputs of the QKV, up and down projections (all layers)."""
    model.eval()
    T = model.cfg.block_size
    x = windows_tensor(val, np.asarray(starts), T)[:, :-1]
    with capture(model, ("qkv_in", "up_in", "ffn_post")) as acts:
        model(x)

    def zeros(ts: list[torch.Tensor]) -> float:
        return float(torch.stack([(t == 0).float().mean() for t in ts]).mean())

    return {
        "qkv_in_sparsity": zeros(acts["qkv_in"]),
        "up_in_sparsity": zeros(acts["up_in"]),
        "down_in_sparsity": zeros(acts["ffn_post"]),
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
    ckpt_path: str | None = None,
    run_id: str = "",
    progress: bool = True,
) -> tuple[float, list[dict[str, Any]]]:
    """In place: dense GELU model -> ReLU FFN + ReLU after both norms, fine-tuned (no L1)."""

    def swap(m: ByteGPT) -> None:
        m.set_activation("relu")
        m.set_norm_relu(True)

    return finetune_after(model, splits, tcfg, swap, None, ckpt_path, run_id, progress)


def shifted_finetune(
    model: ByteGPT,
    splits: dict[str, np.ndarray],
    tcfg: TrainConfig,
    shift: float,
    ckpt_path: str | None = None,
    run_id: str = "",
    progress: bool = True,
) -> tuple[float, list[dict[str, Any]]]:
    """In place: dense GELU model -> ReLU(x - shift), fine-tuned like the plain ReLU (no L1)."""

    def swap(m: ByteGPT) -> None:
        m.set_activation("shifted_relu", shift=shift)

    return finetune_after(model, splits, tcfg, swap, None, ckpt_path, run_id, progress)
