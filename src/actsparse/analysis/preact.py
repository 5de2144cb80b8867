"""Pre-activation distributions ("ReLU Strikes Back" Fig. 5): the values that enter the FFN
nonlinearity, per layer, as a binned density.

Two uses: seeing how much mass sits above the ReLU cutoff (the sparsity a swap leaves on
the table), and choosing the shift b of ReLU(x - b) from the distribution (`quantile`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from actsparse.core.evaluate import activations_on
from actsparse.core.model import ByteGPT


def preactivations(model: ByteGPT, data: np.ndarray, starts: list[int]) -> list[torch.Tensor]:
    """Per layer: every FFN pre-activation value over the given windows, flattened."""
    return [
        a.flatten().float() for a in activations_on(model, data, starts, ("ffn_pre",))["ffn_pre"]
    ]


class LayerHistograms:
    """Per-layer bin counts added batch by batch, so that a large model's pre-activations
    never sit in memory at once (30 layers x 1536 neurons x every token of the windows)."""

    def __init__(self, n_layer: int, lo: float, hi: float, bins: int) -> None:
        self.edges = np.linspace(lo, hi, bins + 1)
        self.counts = np.zeros((n_layer, bins), dtype=np.int64)
        self.above = np.zeros(n_layer, dtype=np.int64)

    def add(self, values: list[torch.Tensor]) -> LayerHistograms:
        """Values outside [lo, hi] count in the end bins."""
        lo, hi = float(self.edges[0]), float(self.edges[-1])
        for layer, v in enumerate(values):
            v = v.detach().flatten().float()
            counts, _ = np.histogram(np.clip(v.numpy(), lo, hi), bins=self.edges)
            self.counts[layer] += counts
            self.above[layer] += int((v > 0).sum())
        return self

    def rows(self) -> list[dict[str, Any]]:
        """Per layer and bin: the density (fraction of values per unit width) and the
        layer's fraction of values above zero."""
        rows = []
        for layer, counts in enumerate(self.counts):
            total = counts.sum()
            density = counts / total / np.diff(self.edges)
            above = float(self.above[layer] / total)
            rows += [
                {
                    "layer": layer,
                    "bin_lo": float(a),
                    "bin_hi": float(b),
                    "density": float(d),
                    "frac_above_zero": above,
                }
                for a, b, d in zip(self.edges[:-1], self.edges[1:], density, strict=True)
            ]
        return rows


def histogram_rows(
    values: list[torch.Tensor], lo: float, hi: float, bins: int
) -> list[dict[str, Any]]:
    """LayerHistograms of values held at once (the byte model's)."""
    return LayerHistograms(len(values), lo, hi, bins).add(values).rows()


def quantile_shift(values: list[torch.Tensor], target_sparsity: float) -> float:
    """The shift b that makes ReLU(x - b) zero a `target_sparsity` fraction of all
    pre-activations (all layers pooled): the documented rule for shifted ReLU."""
    pooled = torch.cat(values)
    if pooled.numel() > 2_000_000:  # torch.quantile's input limit; a strided sample is plenty
        pooled = pooled[:: pooled.numel() // 2_000_000 + 1]
    return float(torch.quantile(pooled, target_sparsity))
