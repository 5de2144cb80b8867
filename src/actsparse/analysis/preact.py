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


def histogram_rows(
    values: list[torch.Tensor], lo: float, hi: float, bins: int
) -> list[dict[str, Any]]:
    """Per layer and bin: the density (fraction of values per unit width; values outside
    [lo, hi] are counted in the end bins), and the fraction of values above zero."""
    edges = np.linspace(lo, hi, bins + 1)
    rows = []
    for layer, v in enumerate(values):
        counts, _ = np.histogram(np.clip(v.numpy(), lo, hi), bins=edges)
        density = counts / counts.sum() / np.diff(edges)
        above = float((v > 0).float().mean())
        rows += [
            {
                "layer": layer,
                "bin_lo": float(a),
                "bin_hi": float(b),
                "density": float(d),
                "frac_above_zero": above,
            }
            for a, b, d in zip(edges[:-1], edges[1:], density, strict=True)
        ]
    return rows


def quantile_shift(values: list[torch.Tensor], target_sparsity: float) -> float:
    """The shift b that makes ReLU(x - b) zero a `target_sparsity` fraction of all
    pre-activations (all layers pooled): the documented rule for shifted ReLU."""
    pooled = torch.cat(values)
    if pooled.numel() > 2_000_000:  # torch.quantile's input limit; a strided sample is plenty
        pooled = pooled[:: pooled.numel() // 2_000_000 + 1]
    return float(torch.quantile(pooled, target_sparsity))
