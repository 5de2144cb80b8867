"""Cross-entropy and activation sparsity on fixed evaluation windows, and the activations
themselves on them.

Fixed windows (evenly spaced, never sampled) make every `ce` in every table
comparable: the same bytes, the same contexts, for every variant of the model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from actsparse.core.checkpoint import load_model
from actsparse.core.corpus import read_split
from actsparse.core.model import ByteGPT, capture
from actsparse.metrics.sparsity import count_exact_zeros

LN2 = math.log(2.0)


@dataclass
class EvalResult:
    ce: float  # nats per byte
    act_sparsity: float  # fraction of exact zeros at the input of the down projection
    act_sparsity_per_layer: list[float] = field(default_factory=list)
    n_bytes: int = 0
    wall_s: float = 0.0

    @property
    def bpb(self) -> float:
        return self.ce / LN2

    @property
    def bytes_per_s(self) -> float:
        return self.n_bytes / self.wall_s if self.wall_s > 0 else float("nan")


def window_starts(n_bytes: int, context: int, n_windows: int | None) -> np.ndarray:
    """Start offsets of windows of context+1 bytes.

    n_windows=None tiles the whole split with non-overlapping windows (every byte but
    the first of each window is predicted); a number spreads that many evenly.
    """
    last = n_bytes - context - 1
    if last < 0:
        raise ValueError(f"{n_bytes} bytes cannot hold one window of {context + 1}")
    if n_windows is None:
        return np.arange(0, last + 1, context, dtype=np.int64)
    return np.unique(np.linspace(0, last, n_windows).round().astype(np.int64))


def windows_tensor(data: np.ndarray, starts: np.ndarray, context: int) -> torch.Tensor:
    idx = starts[:, None] + np.arange(context + 1)[None, :]
    return torch.from_numpy(data[idx].astype(np.int64))


@torch.no_grad()
def evaluate(
    model: ByteGPT,
    data: np.ndarray,
    starts: np.ndarray,
    context: int,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> EvalResult:
    """Mean CE over all predicted bytes of the windows, and the exact-zero fraction."""
    was_training = model.training
    model.eval()
    n_layer = len(model.blocks)
    total_loss, total_bytes = 0.0, 0
    zeros = torch.zeros(n_layer, dtype=torch.float64)
    counts = torch.zeros(n_layer, dtype=torch.float64)
    t0 = time.perf_counter()
    # down_in: where a gated FFN's zeros are (in the byte model the same tensor as ffn_post)
    with model.capture(("down_in",)) as acts:
        for i in range(0, len(starts), batch_size):
            w = windows_tensor(data, starts[i : i + batch_size], context).to(device)
            x, y = w[:, :-1], w[:, 1:]
            logits = model(x)
            loss = F.cross_entropy(
                logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1), reduction="sum"
            )
            total_loss += loss.item()
            total_bytes += y.numel()
            for layer, a in enumerate(acts["down_in"]):
                zeros[layer] += count_exact_zeros(a)
                counts[layer] += a.numel()
    wall = time.perf_counter() - t0
    model.train(was_training)
    per_layer = (zeros / counts).tolist()
    return EvalResult(
        ce=total_loss / total_bytes,
        act_sparsity=float(zeros.sum() / counts.sum()),
        act_sparsity_per_layer=per_layer,
        n_bytes=total_bytes,
        wall_s=wall,
    )


@torch.no_grad()
def activations_on(
    model: ByteGPT,
    data: np.ndarray,
    starts: Sequence[int] | np.ndarray,
    points: Sequence[str],
    batch_size: int | None = None,
) -> dict[str, list[torch.Tensor]]:
    """{point: per layer [windows, T, width]}: the activations at each capture point over
    the windows (core.anatomy.CAPTURE_POINTS), in batches of batch_size windows (None: one pass)."""
    starts = np.asarray(starts)
    if len(starts) == 0:
        raise ValueError("no windows to read activations on")
    model.eval()
    step = batch_size or len(starts)
    chunks: dict[str, list[list[torch.Tensor]]] = {p: [[] for _ in model.h] for p in points}
    for i in range(0, len(starts), step):
        x = windows_tensor(data, starts[i : i + step], model.cfg.block_size)[:, :-1]
        with capture(model, points) as acts:
            model(x)
        for p in points:
            for layer, a in enumerate(acts[p]):
                chunks[p][layer].append(a)
    return {p: [c[0] if len(c) == 1 else torch.cat(c) for c in chunks[p]] for p in points}


def record_ffn_inputs(model: ByteGPT, data: np.ndarray, starts: np.ndarray) -> list[torch.Tensor]:
    """Per layer, [bytes, F]: the input of the down projection for every byte of the windows
    (the real patterns the kernel benchmark replays)."""
    acts = activations_on(model, data, starts, ("ffn_post",))["ffn_post"]
    return [a.reshape(-1, a.shape[-1]).float().contiguous() for a in acts]


def load_for_eval(
    model_path: str | Path, val_path: str | Path, eval_windows: int
) -> tuple[ByteGPT, np.ndarray, np.ndarray]:
    """The trained model, the validation bytes, and the fixed windows every `ce` is taken on."""
    model, _ = load_model(model_path)
    val = read_split(val_path)
    return model, val, window_starts(len(val), model.cfg.block_size, eval_windows)
