"""Per-weight pruning masks, held the same way by every model we prune.

A mask is a bool tensor per parameter name (True = weight kept), kept beside the model
rather than as buffers, so a checkpoint of a dense model loads into a masked one and back.
Training calls `enforce_masks` after every optimiser step, so pruned weights stay exactly 0.
"""

from __future__ import annotations

import torch
from torch import nn


class MaskedWeights(nn.Module):
    """Mixin for a model that can be pruned: `set_masks` and `enforce_masks`."""

    masks: dict[str, torch.Tensor]

    def set_masks(self, masks: dict[str, torch.Tensor]) -> None:
        params = dict(self.named_parameters())
        for name, mask in masks.items():
            if name not in params:
                raise KeyError(f"mask for unknown parameter {name!r}")
            if mask.shape != params[name].shape:
                raise ValueError(
                    f"mask {name!r} has shape {tuple(mask.shape)}, "
                    f"parameter has {tuple(params[name].shape)}"
                )
        self.masks = {n: m.to(dtype=torch.bool, device=params[n].device) for n, m in masks.items()}
        self.enforce_masks()

    @torch.no_grad()
    def enforce_masks(self) -> None:
        """Zero the pruned weights; training calls this after every optimiser step."""
        params = dict(self.named_parameters())
        for name, mask in self.masks.items():
            p = params[name]
            p.mul_(mask.to(p.device))
