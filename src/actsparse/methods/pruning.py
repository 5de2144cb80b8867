"""Magnitude pruning of the FFN weights, unstructured or in 1x16 blocks.

Blocks run along the model dimension D for both FFN matrices: a block is 16 consecutive
entries of one neuron's up-projection row, or of one neuron's down-projection column.
Stored neuron-major (W_up as [F, D], W_down transposed as [F, D]) each block is 16
contiguous floats, which is what a block-sparse kernel loads with one SIMD instruction.
Unstructured masks of the same ratio are kept for comparison: they are what the seed
pruned, and they give no CPU speedup.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from actsparse.core.model import ByteGPT
from actsparse.core.train import RunContext, TrainConfig
from actsparse.methods.finetune import finetune_after

STRUCTURES = ("unstructured", "block16")
BLOCK = 16


def ffn_weight_names(model: ByteGPT) -> list[str]:
    """The pruned matrices: every layer's FFN up (c_fc) and down (c_proj) weights."""
    names = []
    for i in range(len(model.h)):
        names += [f"h.{i}.mlp.c_fc.weight", f"h.{i}.mlp.c_proj.weight"]
    return names


def _keep_top(scores: torch.Tensor, ratio: float) -> torch.Tensor:
    """Boolean mask keeping the (1 - ratio) largest scores; ties broken by position."""
    n_prune = int(round(ratio * scores.numel()))
    keep = torch.ones(scores.numel(), dtype=torch.bool)
    if n_prune > 0:
        order = torch.argsort(scores.flatten(), stable=True)
        keep[order[:n_prune]] = False
    return keep.view_as(scores)


def magnitude_mask(weight: torch.Tensor, ratio: float, structure: str, d_axis: int) -> torch.Tensor:
    """Mask (True = kept) pruning `ratio` of the weights by magnitude.

    d_axis is the axis of `weight` that runs along the model dimension D; 1x16 blocks are
    laid along it and scored by their L2 norm. A last partial block (D % 16) is scored
    the same way, over its own entries.
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"prune ratio must be in [0, 1), got {ratio}")
    if structure == "unstructured":
        return _keep_top(weight.detach().abs(), ratio)
    if structure != "block16":
        raise ValueError(f"unknown prune structure {structure!r}; known: {STRUCTURES}")
    w = weight.detach().movedim(d_axis, -1)  # [F, D]
    n_rows, d = w.shape
    n_blocks = -(-d // BLOCK)
    padded = torch.zeros(n_rows, n_blocks * BLOCK, dtype=w.dtype)
    padded[:, :d] = w
    scores = padded.view(n_rows, n_blocks, BLOCK).pow(2).sum(-1).sqrt()
    keep_blocks = _keep_top(scores, ratio)
    mask = keep_blocks.repeat_interleave(BLOCK, dim=1)[:, :d]
    return mask.movedim(-1, d_axis).contiguous()


def prune_ffn(model: ByteGPT, ratio: float, structure: str) -> dict[str, torch.Tensor]:
    """Masks for every FFN matrix, each pruned to `ratio` on its own (layer-wise)."""
    params = dict(model.named_parameters())
    masks = {}
    for name in ffn_weight_names(model):
        d_axis = 1 if ".c_fc." in name else 0  # c_fc.weight is [F, D], c_proj.weight [D, F]
        masks[name] = magnitude_mask(params[name], ratio, structure, d_axis)
    return masks


def mask_structure(model: ByteGPT) -> str | None:
    """How the model's FFN masks were cut: None (no masks), "block16" when every mask is
    constant on each 1x16 block along D, else "unstructured" (read from the masks, not
    from a file name)."""
    masks = [model.masks[n] for n in ffn_weight_names(model) if n in model.masks]
    if not masks:
        return None
    for name, m in zip(ffn_weight_names(model), masks, strict=False):
        rows = m if ".c_fc." in name else m.t()  # [F, D]
        d = rows.shape[1]
        padded = torch.ones(rows.shape[0], -(-d // BLOCK) * BLOCK, dtype=torch.bool)
        padded[:, :d] = rows
        blocks = padded.view(rows.shape[0], -1, BLOCK)
        if not (blocks == blocks[..., :1]).all():
            return "unstructured"
    return "block16"


def weight_sparsity(model: ByteGPT) -> float:
    """Fraction of exactly-zero weights over the FFN matrices."""
    params = dict(model.named_parameters())
    ws = [params[n] for n in ffn_weight_names(model)]
    return float(sum((w == 0).sum() for w in ws) / sum(w.numel() for w in ws))


def prune_and_recover(
    model: ByteGPT,
    splits: dict[str, np.ndarray],
    tcfg: TrainConfig,
    ratio: float,
    structure: str,
    run: RunContext = RunContext(),
) -> list[dict[str, Any]]:
    """In place: magnitude-prune the FFN, then recover with the masks held at exactly zero.
    Step 0 of the trajectory is the CE right after pruning."""

    def prune(m: ByteGPT) -> None:
        m.set_masks(prune_ffn(m, ratio, structure))

    _, rows = finetune_after(model, splits, tcfg, prune, None, run)
    ws = weight_sparsity(model)
    return [{**r, "weight_sparsity": ws, "ratio": ratio, "structure": structure} for r in rows]
