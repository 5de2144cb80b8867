"""Aggregated sparsity ("ReLU Strikes Back" Sec. 5.1): how many FFN neurons a relufied model
has not used yet after the first t bytes of a prompt.

If each byte switched on a fresh random subset of neurons (each layer i at its mean
sparsity s_i), a neuron would still be unused after t bytes with probability s_i^t. A model
that keeps reusing the same neurons stays well above that curve, which is what lets an
engine keep the weights it has already loaded (and what sparse speculative decoding uses).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from actsparse.core.evaluate import activations_on, window_starts
from actsparse.core.model import ByteGPT


def active_sets(
    model: ByteGPT, data: np.ndarray, starts: list[int], batch: int = 8
) -> list[torch.Tensor]:
    """Per layer: bool [prompts, T, F], True where a neuron's output is nonzero."""
    acts = activations_on(model, data, starts, ("ffn_post",), batch)["ffn_post"]
    return [a != 0 for a in acts]


def prompt_active_sets(model: ByteGPT, val: np.ndarray, prompts: int) -> list[torch.Tensor]:
    """active_sets over `prompts` evenly spaced full-context windows of the val split."""
    return active_sets(model, val, list(window_starts(len(val), model.cfg.block_size, prompts)))


def unused_after(active: torch.Tensor) -> torch.Tensor:
    """[T]: mean over prompts of the fraction of neurons not used in bytes 1..t."""
    used = torch.cummax(active.to(torch.uint8), dim=1).values.bool()
    return 1.0 - used.float().mean(dim=(0, 2))


def window_unused(active: torch.Tensor, gamma: int) -> float:
    """s_agg(gamma): the fraction of neurons unused over gamma consecutive bytes, averaged
    over every non-overlapping window of every prompt (what a verifier of gamma drafted
    bytes never has to load)."""
    n, T, F = active.shape
    k = T // gamma
    if k == 0:
        raise ValueError(f"gamma {gamma} exceeds the context of {T} bytes")
    windows = active[:, : k * gamma].reshape(n, k, gamma, F).any(dim=2)
    return float(1.0 - windows.float().mean())


def aggregated_rows(active: list[torch.Tensor], every: int = 1) -> list[dict[str, Any]]:
    """Per layer and t (every `every` bytes, and the last): observed vs random s_i^t."""
    rows = []
    for layer, a in enumerate(active):
        observed = unused_after(a)
        s = 1.0 - float(a.float().mean())  # the layer's mean per-byte sparsity
        T = len(observed)
        for t in sorted(set(range(every, T + 1, every)) | {1, T}):
            base = {"layer": layer, "t": t, "act_sparsity": s}
            rows.append({**base, "kind": "observed", "unused_frac": float(observed[t - 1])})
            rows.append({**base, "kind": "random", "unused_frac": s**t})
    return rows


def window_rows(active: list[torch.Tensor], gammas: list[int]) -> list[dict[str, Any]]:
    """s_agg(gamma) averaged over layers, observed and random (mean over layers of s_i^gamma)."""
    rows = []
    for g in gammas:
        observed = float(np.mean([window_unused(a, g) for a in active]))
        random = float(np.mean([(1.0 - float(a.float().mean())) ** g for a in active]))
        rows.append({"gamma": g, "kind": "observed", "s_agg": observed})
        rows.append({"gamma": g, "kind": "random", "s_agg": random})
    return rows
