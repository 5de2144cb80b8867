"""Weight pruning of a pretrained model's FFN at the FLOPs its relufied version reaches (RSB
Table 4: relufication against magnitude and Wanda pruning at matched compute).

- magnitude: each FFN matrix loses its smallest |W| (layer-wise, unstructured), as the byte
  model's `prune` stage does;
- Wanda (Sun et al. 2023): |W_ij| * ||X_j||, the weight times the norm of its input over
  calibration text, compared within each output row; no weight update.

The ratio comes from the FLOPs table: weight sparsity r leaves (1 - r) of every FFN
matrix's FLOPs, so r = 1 - the relufied model's FFN share of dense on the exact path (its
gate computed densely). The masks are held by the model (core.masks) through the same
recovery fine-tune as relufication, so the comparison spends the same tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn

from actsparse.core import anatomy as A
from actsparse.core.train import RunContext
from actsparse.methods.finetune import finetune_after
from actsparse.methods.pruning import magnitude_mask
from actsparse.pretrained import relufy
from actsparse.pretrained.lm import PretrainedLM

METHODS = ("magnitude", "wanda")


@dataclass(frozen=True)
class FFNWeight:
    """One pruned matrix: its parameter name, the capture point that reads its input, and
    whether it is stored [in, out] (GPT-2's Conv1D) rather than [out, in] (nn.Linear)."""

    name: str
    layer: int
    point: str
    transposed: bool


def ffn_weights(lm: PretrainedLM) -> list[FFNWeight]:
    """Every layer's gate (a gated FFN's), up and down weights."""
    a = lm.anatomy
    out = []
    for i, block in enumerate(lm.blocks):
        for path, point in ((a.gate, "up_in"), (a.up, "up_in"), (a.down, "down_in")):
            if path is None:
                continue
            linear = isinstance(A.module_at(block, path), nn.Linear)
            out.append(FFNWeight(f"hf.{a.blocks}.{i}.{path}.weight", i, point, not linear))
    return out


@torch.no_grad()
def input_norms(
    lm: PretrainedLM, batches: Iterable[torch.Tensor]
) -> dict[tuple[str, int], torch.Tensor]:
    """||X_j||_2 over every calibration token, per (capture point, layer) and input feature."""
    sq: dict[tuple[str, int], torch.Tensor] = {}
    with lm.capture(("up_in", "down_in")) as cap:
        for x in batches:
            lm(x)
            for point, per_layer in cap.items():
                for i, t in enumerate(per_layer):
                    s = t.float().reshape(-1, t.shape[-1]).pow(2).sum(0)
                    sq[(point, i)] = sq[(point, i)] + s if (point, i) in sq else s
    if not sq:
        raise ValueError("Wanda needs at least one calibration batch")
    return {k: v.sqrt() for k, v in sq.items()}


def wanda_mask(weight: torch.Tensor, in_norm: torch.Tensor, ratio: float) -> torch.Tensor:
    """Mask (True = kept) of weight [out, in]: in each output row, the `ratio` of entries
    with the smallest |W_ij| * ||X_j|| pruned (ties by position)."""
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"prune ratio must be in [0, 1), got {ratio}")
    if in_norm.shape != weight.shape[1:]:
        raise ValueError(
            f"input norms {tuple(in_norm.shape)} do not match weight {tuple(weight.shape)}"
        )
    scores = weight.detach().abs().float() * in_norm[None, :]
    keep = torch.ones_like(scores, dtype=torch.bool)
    k = int(round(ratio * weight.shape[1]))
    if k > 0:
        keep.scatter_(1, torch.argsort(scores, dim=1, stable=True)[:, :k], False)
    return keep


def prune_masks(
    lm: PretrainedLM,
    method: str,
    ratio: float,
    norms: Mapping[tuple[str, int], torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Masks for every FFN matrix at `ratio` (Wanda needs `input_norms`)."""
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; known: {METHODS}")
    if method == "wanda" and norms is None:
        raise ValueError("Wanda needs the input norms of calibration text (input_norms)")
    params = dict(lm.named_parameters())
    masks = {}
    for w in ffn_weights(lm):
        weight = params[w.name].t() if w.transposed else params[w.name]  # [out, in]
        if method == "magnitude":
            mask = magnitude_mask(weight, ratio, "unstructured", d_axis=1)
        else:
            mask = wanda_mask(weight, norms[(w.point, w.layer)], ratio)
        masks[w.name] = mask.t() if w.transposed else mask
    return masks


def ffn_weight_sparsity(lm: PretrainedLM) -> float:
    """Exact-zero share over the FFN matrices."""
    params = dict(lm.named_parameters())
    ws = [params[w.name] for w in ffn_weights(lm)]
    return float(sum((p == 0).sum() for p in ws) / sum(p.numel() for p in ws))


def matched_ratio(flops: pd.DataFrame, variant: str) -> float:
    """The weight sparsity at which the FFN costs what `variant`'s does on the exact path."""
    row = flops[(flops["variant"] == variant) & (flops["accounting"] == "exact")]
    if row.empty:
        known = sorted(set(flops["variant"]))
        raise ValueError(f"no exact FLOPs row for {variant!r} to match; variants: {known}")
    return 1.0 - float(row["ffn_frac_of_dense"].iloc[0])


def recovery_rows(
    lm: PretrainedLM,
    data: Mapping[str, bytes],
    cfg: Mapping[str, Any],
    method: str,
    ratio: float,
    calib: Iterable[torch.Tensor],
    run: RunContext = RunContext(),
) -> list[dict[str, Any]]:
    """In place: prune the FFN (Wanda's norms taken on the dense model first), then the
    relufy budget's fine-tune with the masks held; the trajectory from step 0 (right after
    pruning) with bpb, in the pretrained_relufy table's shape."""
    norms = input_norms(lm, calib) if method == "wanda" else None
    tcfg, tokens, splits = relufy.prepare(lm, data, cfg)

    def prune(m: PretrainedLM) -> None:
        m.set_masks(prune_masks(m, method, ratio, norms))

    _, rows = finetune_after(lm, splits, tcfg, prune, None, run)
    base = {"variant": f"prune_{method}", "activation": lm.activation, "structure": method}
    ws = ffn_weight_sparsity(lm)
    rows = [{**base, **r, "ratio": ratio, "weight_sparsity": ws} for r in rows]
    return relufy.with_bpb(lm, relufy.mark_end_points(rows), tokens["val"], tcfg)
