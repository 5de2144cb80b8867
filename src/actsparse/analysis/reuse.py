"""Neuron reuse ("ReLU Strikes Back" Fig. 7c): after a prompt, alternate gamma-byte windows
of normal decoding with windows that may only use the neurons the previous normal window
used (every other FFN output forced to zero), and see what that costs in perplexity,
against forcing a random neuron set of the same size.

Any model: `masked_ce` takes a forward function and the activation modules to hook (the
byte model's, or a pretrained model's through core.anatomy). Teacher-forced and exact: the
FFN outputs of layer l at a reuse position are masked by the layer-l active set of the
preceding normal window, which a causal model has computed by then, so one forward pass
with a hook on each activation gives what token-by-token decoding would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from actsparse.core.evaluate import windows_tensor
from actsparse.core.model import ByteGPT

KINDS = ("none", "reuse", "random")


def _window_masker(prompt: int, gamma: int, kind: str, gen: torch.Generator, kept: list[float]):
    """A forward hook for one activation module: masks the reuse windows' outputs."""

    def hook(module: torch.nn.Module, args: tuple, out: torch.Tensor) -> torch.Tensor:
        B, T, F_ = out.shape
        out = out.clone()
        start = prompt
        while start + 2 * gamma <= T:
            normal = slice(start, start + gamma)
            reused = slice(start + gamma, start + 2 * gamma)
            allowed = (out[:, normal] != 0).any(dim=1)  # [B, F]
            if kind == "random":
                n = allowed.sum(dim=1)  # same size per sequence, random neurons
                ranks = torch.rand(B, F_, generator=gen).argsort(dim=1).argsort(dim=1)
                allowed = ranks < n[:, None]
            kept.append(float(allowed.float().mean()))
            out[:, reused] *= allowed[:, None, :].to(out.dtype)
            start += 2 * gamma
        return out

    return hook


@torch.no_grad()
def masked_ce(
    forward: Callable[[torch.Tensor], torch.Tensor],
    acts: Sequence[torch.nn.Module],
    batches: Sequence[torch.Tensor],
    prompt: int,
    gamma: int,
    kind: str,
    seed: int = 0,
) -> tuple[float, float]:
    """Any model: `forward` maps ids [B, T] to logits, `acts` are its FFN activation modules
    (each block's), `batches` windows [B, T + 1] of ids. (ce over the positions after the
    prompt, mean fraction of neurons allowed in the reuse windows.)"""
    if kind not in KINDS:
        raise ValueError(f"unknown reuse kind {kind!r}; known: {KINDS}")
    T = batches[0].shape[1] - 1
    if prompt <= 0 or prompt + 2 * gamma > T:
        raise ValueError(f"prompt {prompt} + two windows of {gamma} do not fit in {T} positions")
    gen = torch.Generator().manual_seed(seed)
    kept: list[float] = []
    handles = []
    if kind != "none":
        handles = [
            a.register_forward_hook(_window_masker(prompt, gamma, kind, gen, kept)) for a in acts
        ]
    total, count = 0.0, 0
    try:
        for w in batches:
            x, y = w[:, :-1], w[:, 1:]
            logits = forward(x)[:, prompt:]
            ce = F.cross_entropy(
                logits.reshape(-1, logits.size(-1)).float(),
                y[:, prompt:].reshape(-1),
                reduction="sum",
            )
            total, count = total + float(ce), count + y[:, prompt:].numel()
    finally:
        for h in handles:
            h.remove()
    return total / count, (float(np.mean(kept)) if kept else 1.0)


def reuse_ce(
    model: ByteGPT,
    data: np.ndarray,
    starts: list[int],
    prompt: int,
    gamma: int,
    kind: str,
    seed: int = 0,
) -> tuple[float, float]:
    """The byte model: (ce over the bytes after the prompt, mean fraction of neurons allowed
    in reuse windows)."""
    T = model.cfg.block_size
    if prompt <= 0 or prompt + 2 * gamma > T:
        raise ValueError(f"prompt {prompt} + two windows of {gamma} do not fit in {T} bytes")
    model.eval()
    w = windows_tensor(data, np.asarray(starts), T)
    acts = [block.mlp.act for block in model.h]
    return masked_ce(model, acts, [w], prompt, gamma, kind, seed)


def rows_for(
    ce_of: Callable[[int, str], tuple[float, float]], gammas: Sequence[int]
) -> list[dict[str, Any]]:
    """Per gamma and kind: ce and perplexity after the prompt; `none` is the same for all."""
    base, _ = ce_of(1, "none")
    rows = []
    for g in gammas:
        rows.append(
            {"gamma": g, "kind": "none", "ce": base, "ppl": float(np.exp(base)), "kept_frac": 1.0}
        )
        for kind in ("reuse", "random"):
            ce, kept = ce_of(g, kind)
            rows.append(
                {"gamma": g, "kind": kind, "ce": ce, "ppl": float(np.exp(ce)), "kept_frac": kept}
            )
    return rows


def reuse_rows(
    model: ByteGPT,
    data: np.ndarray,
    starts: list[int],
    prompt: int,
    gammas: list[int],
    seed: int = 0,
) -> list[dict[str, Any]]:
    """The byte model's Fig. 7c rows."""
    return rows_for(lambda g, k: reuse_ce(model, data, starts, prompt, g, k, seed), gammas)
