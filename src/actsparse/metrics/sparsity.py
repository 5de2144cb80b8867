"""Sparsity metrics of activations, on tensors whose last axis is the layer width.

Definitions (DESIGN.md): `act_sparsity` counts exact zeros only, since only an exact zero
lets a kernel skip a weight row; `frac_active_tau` and `energy95_width` describe how a
dense model spreads its work, which is what decides whether gating can ever pay. Every
exact-zero count in the library comes from here (the C++ decode engine counts its own,
and its tests compare it with these).
"""

from __future__ import annotations

import torch


def count_exact_zeros(a: torch.Tensor) -> int:
    return int((a == 0).sum().item())


def exact_zero_fraction(a: torch.Tensor) -> float:
    return float((a == 0).float().mean())


def mean_exact_zero_fraction(per_layer: list[torch.Tensor]) -> float:
    """The exact-zero fraction of each layer's tensor, averaged over layers (each layer
    weighs the same, whatever its width)."""
    return float(torch.stack([(t == 0).float().mean() for t in per_layer]).mean())


def frac_active_tau(a: torch.Tensor, tau: float) -> float:
    """Fraction of neurons with |a| > tau, over all bytes."""
    return float((a.abs() > tau).float().mean())


def energy_width(a: torch.Tensor, q: float = 0.95) -> float:
    """Per byte, the smallest fraction of FFN width whose squared activations hold a share
    q of that byte's total; averaged over bytes. A byte with zero energy needs width 0."""
    e = a.reshape(-1, a.shape[-1]).double().pow(2)
    e_sorted, _ = e.sort(dim=-1, descending=True)
    cum = e_sorted.cumsum(dim=-1)
    total = cum[:, -1:]
    # number of neurons needed: first index where cum >= q * total, plus one
    need = (cum < q * total - 1e-12 * total).sum(dim=-1) + 1
    need = torch.where(total.squeeze(-1) > 0, need, torch.zeros_like(need))
    return float(need.double().mean() / a.shape[-1])


def energy_curve(a: torch.Tensor, width_fracs: torch.Tensor) -> torch.Tensor:
    """Mean share of a byte's activation energy held by its top `width_frac` of neurons."""
    e = a.reshape(-1, a.shape[-1]).double().pow(2)
    e_sorted, _ = e.sort(dim=-1, descending=True)
    cum = e_sorted.cumsum(dim=-1)
    share = cum / cum[:, -1:].clamp_min(1e-300)
    k = (width_fracs.double() * a.shape[-1]).round().long().clamp(0, a.shape[-1])
    padded = torch.cat([torch.zeros(len(share), 1, dtype=share.dtype), share], dim=1)
    return padded[:, k].mean(dim=0)
