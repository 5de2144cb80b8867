"""One sparsity metric for every method: CETT-PPL-p% (Zhang et al. 2024, "ReLU² Wins";
Luo et al. 2024, "Sparsing Law").

Methods reach sparsity by different routes (a ReLU's exact zeros, a calibrated threshold,
an L1 penalty), and each paper reports its own count. CETT puts them on one axis: a neuron
i of an FFN is inactive on a token when its output a_i * d_i (a_i the down projection's
input, d_i its column) has norm at most eps; the cumulative error of tail truncation is

    CETT = || sum over inactive i of a_i d_i || / || sum over all i of a_i d_i ||,

averaged over calibration tokens. Each layer gets the eps at which its CETT equals one
shared target, so every layer pays the same relative error; the target is then raised
until perplexity rises by p%, and the share of inactive neurons there is the model's
PPL-p% sparsity. A neuron that is exactly zero is inactive at eps = 0, so a relufied
model starts from its exact zeros and a SiLU model from none.

Truncation happens at the down projection's input, the place an engine skips a column of
the down projection; written against core.anatomy, so it applies to the byte model and a
pretrained LLM alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from actsparse.core import anatomy as A

TOKENS = 1024  # calibration tokens kept per layer: the bisection's cost is linear in them
BISECT = 20  # halvings of a layer's eps interval: eps to ~1e-6 of its range


def down_rows(module: nn.Module) -> torch.Tensor:
    """The down projection's weight as (d_ffn, d_model): row i is neuron i's column d_i.
    nn.Linear stores (out, in); GPT-2's Conv1D stores (in, out)."""
    if isinstance(module, nn.Linear):
        return module.weight.detach().float().t()
    if type(module).__name__ == "Conv1D":
        return module.weight.detach().float()
    raise TypeError(f"no down-projection layout known for {type(module).__name__}")


def layer_cett(
    acts: torch.Tensor, rows: torch.Tensor, eps: float, whole: torch.Tensor | None = None
) -> float:
    """Mean over tokens of ||truncated part|| / ||whole output|| at threshold eps (`whole`:
    the per-token norms of the untruncated output, when the caller has them already)."""
    norms = acts.abs() * rows.norm(dim=1)
    tail = (acts * (norms <= eps)) @ rows
    if whole is None:
        whole = (acts @ rows).norm(dim=1)
    return float((tail.norm(dim=1) / whole.clamp_min(1e-12)).mean())


def layer_eps(acts: torch.Tensor, rows: torch.Tensor, target: float) -> float:
    """The largest eps (to BISECT halvings) whose CETT stays within `target`: CETT grows
    with eps, from the exact zeros' 0 at eps = 0 to 1 once every neuron is cut. Target 0
    is the model itself (eps = 0: its exact zeros only), not the sliver of eps below the
    calibration's smallest output that would also cost nothing there."""
    if target == 0.0:
        return 0.0
    whole = (acts @ rows).norm(dim=1)
    lo, hi = 0.0, float((acts.abs() * rows.norm(dim=1)).max())
    for _ in range(BISECT):
        mid = (lo + hi) / 2
        ok = layer_cett(acts, rows, mid, whole) <= target
        lo, hi = (mid, hi) if ok else (lo, mid)
    return lo


class Calibration:
    """The down projection's inputs on calibration text, kept once (a fixed subsample of
    TOKENS per layer) so that each CETT target the search tries costs only bisections."""

    def __init__(
        self,
        model: nn.Module,
        anatomy: A.Anatomy,
        batches: Sequence[torch.Tensor],
        forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        run = forward or model
        layers = A.blocks(model, anatomy)
        seen: list[list[torch.Tensor]] = [[] for _ in layers]
        with torch.no_grad(), A.capture(model, anatomy, ("down_in",)) as cap:
            for x in batches:
                run(x)
                for layer, t in enumerate(cap["down_in"]):
                    seen[layer].append(t.reshape(-1, t.shape[-1]).float())
        if not seen or not seen[0]:
            raise ValueError("CETT calibration needs at least one batch of text")
        g = torch.Generator().manual_seed(0)
        self.acts = []
        for values in seen:
            a = torch.cat(values)
            if len(a) > TOKENS:
                a = a[torch.randperm(len(a), generator=g)[:TOKENS]]
            self.acts.append(a)
        self.rows = [down_rows(A.module_at(b, anatomy.down)) for b in layers]
        self.scales = [r.norm(dim=1) for r in self.rows]

    @torch.no_grad()
    def thresholds(self, target: float) -> list[torch.Tensor]:
        """Per layer, the per-neuron |a_i| cut eps / ||d_i|| at which its CETT is `target`."""
        if not 0.0 <= target < 1.0:
            raise ValueError(f"a CETT target must be in [0, 1), got {target}")
        out = []
        for acts, rows, scale in zip(self.acts, self.rows, self.scales, strict=True):
            eps = layer_eps(acts, rows, target)
            out.append(eps / scale.clamp_min(1e-12))
        return out


@contextmanager
def truncated(
    model: nn.Module, anatomy: A.Anatomy, thresholds: Sequence[torch.Tensor]
) -> Iterator[None]:
    """Inside the block, each down-projection input with |a_i| <= its neuron's cut is
    exactly 0 (a forward pre-hook; a capture opened inside sees the truncated input)."""
    layers = A.blocks(model, anatomy)
    if len(thresholds) != len(layers):
        raise ValueError(f"{len(thresholds)} threshold vectors for {len(layers)} layers")

    def cut(t: torch.Tensor) -> Callable:
        return lambda m, args: (args[0] * (args[0].abs() > t.to(args[0].dtype)), *args[1:])

    with A.hooked(model, anatomy, anatomy.down, [cut(t) for t in thresholds], pre=True):
        yield


@dataclass(frozen=True)
class Point:
    """One CETT target evaluated: its cross-entropy and the share of inactive neurons."""

    cett: float
    ce: float
    act_sparsity: float


def sparsity_at_rise(
    score: Callable[[float], Point],
    dense_ce: float,
    rises: Sequence[float] = (0.01, 0.05),
    steps: int = 8,
    top: float = 0.9,
) -> dict[float, Point]:
    """Per PPL rise p, the evaluated point of largest CETT whose perplexity is within
    (1 + p) of the dense model's, by bisection on the CETT target in [0, top]. `score`
    evaluates the model truncated at a target; its points are cached, so the rises share
    them. The point at CETT 0 (exact zeros only) is the floor: a model already past the
    budget there reports it, and the caller sees its ce."""
    if not rises or any(p <= 0 for p in rises):
        raise ValueError(f"PPL rises must be positive fractions, got {list(rises)}")
    if not 0.0 < top < 1.0:
        raise ValueError(f"the CETT search's top must be in (0, 1), got {top}")
    seen: dict[float, Point] = {}

    def at(c: float) -> Point:
        if c not in seen:
            seen[c] = score(c)
        return seen[c]

    out = {}
    for p in rises:
        budget = dense_ce + math.log1p(p)
        best = at(0.0)
        if at(top).ce <= budget:
            out[p] = at(top)
            continue
        lo, hi = 0.0, top
        for _ in range(steps):
            mid = (lo + hi) / 2
            if at(mid).ce <= budget:
                lo, best = mid, at(mid)
            else:
                hi = mid
        out[p] = best
    return out


class Scored(Protocol):
    """What an evaluation gives back: core.evaluate's and pretrained.text's alike."""

    ce: float
    act_sparsity: float
    bpb: float


def rows(
    model: nn.Module,
    anatomy: A.Anatomy,
    calib: Sequence[torch.Tensor],
    evaluate: Callable[[], Scored],
    reference_ce: float,
    rises: Sequence[float],
    steps: int,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> list[dict[str, Any]]:
    """Per rise, the row of the pretrained_cett / cett tables: CETT-PPL-p% of the model
    as it stands against the dense model's `reference_ce` on the same evaluation text;
    `evaluate` scores the model on that text (inside it, the truncation is in force)."""
    cal = Calibration(model, anatomy, calib, forward=forward)
    evals: dict[float, Scored] = {}

    def score(target: float) -> Point:
        with torch.no_grad(), truncated(model, anatomy, cal.thresholds(target)):
            evals[target] = ev = evaluate()
        return Point(target, ev.ce, ev.act_sparsity)

    found = sparsity_at_rise(score, reference_ce, rises, steps)
    out = []
    for rise, point in found.items():
        ev = evals[point.cett]
        out.append(
            {
                "rise": rise,
                "cett": point.cett,
                "ce": ev.ce,
                "bpb": ev.bpb,
                "delta_ce": ev.ce - reference_ce,
                "reference_ce": reference_ce,
                "within": ev.ce <= reference_ce + math.log1p(rise),
                "act_sparsity": ev.act_sparsity,
                "exact_sparsity": evals[0.0].act_sparsity,
                "scored": len(evals),
            }
        )
    return out


def byte_model_rows(
    model: nn.Module,
    dense: nn.Module,
    val: np.ndarray,
    train: np.ndarray,
    eval_windows: int,
    cfg: dict[str, Any],
) -> list[dict[str, Any]]:
    """CETT-PPL-p% of a byte-model variant on the fixed validation windows every `ce` is
    read on, against the dense model's ce there; calibrated on training-text windows."""
    from actsparse.core.evaluate import evaluate, window_starts, windows_tensor

    context = model.cfg.block_size
    starts = window_starts(len(val), context, eval_windows)
    reference = evaluate(dense, val, starts, context).ce
    calib_starts = window_starts(len(train), context, cfg["calib_windows"])
    calib = [
        windows_tensor(train, calib_starts[i : i + 8], context)[:, :-1]
        for i in range(0, len(calib_starts), 8)
    ]
    return rows(
        model,
        A.BYTE,
        calib,
        lambda: evaluate(model, val, starts, context),
        reference,
        cfg["rises"],
        cfg["steps"],
    )
