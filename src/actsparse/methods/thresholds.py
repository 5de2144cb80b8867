"""Training-free activation sparsity: zero the small FFN activations below a per-layer
threshold (CATS, TEAL; the seed's "naive gating" with one threshold per layer).

The threshold of layer l is the `sparsity` quantile of |act output| over calibration
text (training text, never the evaluation windows), so each layer zeroes about that share
of its activations; in a gated FFN the zeroed gate outputs make the down projection's
inputs zero, which is what an engine skips. Written against core.anatomy, so it applies to
the byte model and a pretrained LLM alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from actsparse.core import anatomy as A

SAMPLE = 1 << 20  # values per layer the quantile is taken over (torch.quantile's limit is 16M)


@torch.no_grad()
def calibrate(
    model: nn.Module,
    anatomy: A.Anatomy,
    batches: Sequence[torch.Tensor],
    sparsities: Sequence[float],
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> list[list[float]]:
    """Per target sparsity, per layer, the |activation| below which that share of the
    calibration values lie. One pass over the calibration text serves every target: the
    forward and the subsample are the costly part, the quantiles are cheap."""
    if not sparsities:
        raise ValueError("calibrate needs at least one target sparsity")
    for s in sparsities:
        if not 0.0 <= s < 1.0:
            raise ValueError(f"a threshold sparsity must be in [0, 1), got {s}")
    run = forward or model
    per_layer: list[list[torch.Tensor]] = [[] for _ in A.blocks(model, anatomy)]
    with A.capture(model, anatomy, ("ffn_post",)) as cap:
        for x in batches:
            run(x)
            for layer, t in enumerate(cap["ffn_post"]):
                per_layer[layer].append(t.abs().flatten().float())
    g = torch.Generator().manual_seed(0)
    q = torch.tensor([float(s) for s in sparsities])
    by_layer = []
    for values in per_layer:
        v = torch.cat(values)
        if v.numel() > SAMPLE:  # a fixed random subsample: the quantile's error is ~1e-3
            v = v[torch.randperm(v.numel(), generator=g)[:SAMPLE]]
        by_layer.append(torch.quantile(v, q).tolist())
    return [[cuts[i] for cuts in by_layer] for i in range(len(sparsities))]


@contextmanager
def thresholded(
    model: nn.Module, anatomy: A.Anatomy, thresholds: Sequence[float]
) -> Iterator[None]:
    """Inside the block, each layer's activations with |a| < its threshold are exactly 0
    (a forward hook replaces the activation's output; a capture opened inside sees it)."""
    layers = A.blocks(model, anatomy)
    if len(thresholds) != len(layers):
        raise ValueError(f"{len(thresholds)} thresholds for {len(layers)} layers")
    hooks = [lambda m, args, out, t=t: out * (out.abs() >= t) for t in thresholds]
    with A.hooked(model, anatomy, anatomy.act, hooks):
        yield
