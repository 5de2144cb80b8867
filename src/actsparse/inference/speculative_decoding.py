"""Speculative decoding measured: an n-gram draft proposes gamma bytes, the relufied target
verifies them in one pass of this project's decode engine (dense or sparse FFN), greedy
acceptance. The output is the target's own greedy decoding, byte for byte; only the time
differs, and it is set beside RSB's Theorems 1-2 (`analysis.speculative_theory`) fed with
what was measured.

The draft is a greedy byte n-gram model. Speculative decoding needs a draft far cheaper
than the target (RSB's c is 0.01-0.05): an n-gram table fitted on the training split costs
a few dictionary lookups per byte, needs no training run, and still guesses many English
bytes (the rest of a word, spaces after punctuation), so it gives a real acceptance rate
rather than an assumed one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from actsparse.analysis.speculative_theory import speedup_vs_autoregressive, speedup_vs_standard
from actsparse.core.model import ByteGPT
from actsparse.inference import kernels as K
from actsparse.inference.decode import ENGINE_THREADS, CppDecodeEngine, check_generation

MAX_ORDER = 7  # a context of order - 1 bytes plus the next byte fits in an int64 key


@dataclass(frozen=True)
class NgramDraft:
    """Greedy prediction from the longest seen context of up to order - 1 bytes.

    tables[m] maps a context of m bytes (big-endian integer) to its most frequent next
    byte in the fitting data; tables[0] holds the most frequent byte overall under key 0.
    """

    order: int
    tables: tuple[dict[int, int], ...]

    @classmethod
    def fit(cls, data: np.ndarray, order: int) -> NgramDraft:
        if not 1 <= order <= MAX_ORDER:
            raise ValueError(f"n-gram order must be in [1, {MAX_ORDER}], got {order}")
        data = np.asarray(data, dtype=np.uint8)
        if data.size < order:
            raise ValueError(f"{data.size} bytes cannot fit an order-{order} n-gram model")
        tables = tuple(_most_frequent_next(data, m) for m in range(order))
        return cls(order, tables)

    def next_byte(self, context: Sequence[int] | bytes) -> int:
        """The most frequent byte after the longest known suffix of context."""
        for m in range(min(self.order - 1, len(context)), -1, -1):
            key = int.from_bytes(bytes(context[len(context) - m :]), "big") if m else 0
            nxt = self.tables[m].get(key)
            if nxt is not None:
                return nxt
        raise AssertionError("tables[0] always holds a byte")

    def propose(self, context: bytes | bytearray, gamma: int) -> list[int]:
        """gamma bytes drafted greedily after context, each fed back as context."""
        tail = bytearray(context[len(context) - (self.order - 1) :] if self.order > 1 else b"")
        out = []
        for _ in range(gamma):
            b = self.next_byte(tail)
            out.append(b)
            tail.append(b)
            if len(tail) > self.order - 1:
                del tail[0]
        return out


def _most_frequent_next(data: np.ndarray, m: int) -> dict[int, int]:
    """{context of m bytes: its most frequent next byte}, counted with numpy (MBs/s)."""
    n = data.size - m
    key = np.zeros(n, dtype=np.int64)
    for j in range(m + 1):  # context bytes, then the next byte, big-endian
        key = (key << 8) | data[j : j + n].astype(np.int64)
    keys, counts = np.unique(key, return_counts=True)
    ctx, nxt = keys >> 8, keys & 0xFF
    order = np.lexsort((-counts, ctx))  # by context, the most frequent next byte first
    ctx, nxt = ctx[order], nxt[order]
    first = np.ones(ctx.size, dtype=bool)
    first[1:] = ctx[1:] != ctx[:-1]
    return dict(zip(ctx[first].tolist(), nxt[first].tolist(), strict=True))


@dataclass
class SpeculativeRun:
    """One greedy speculative generation: its bytes and what it cost."""

    out: bytes
    seconds: float
    draft_seconds: float
    rounds: int
    drafted: int
    accepted: int
    rejections: int  # rounds that stopped at a rejected draft byte
    union_sparsity: float  # s_agg over the verification passes, averaged over layers

    @property
    def alpha(self) -> float:
        """Acceptance probability of a drafted byte: the maximum-likelihood estimate for
        acceptances i.i.d. until the first rejection (a round that accepts every byte
        contributes successes and no failure)."""
        trials = self.accepted + self.rejections
        return self.accepted / trials if trials else float("nan")


def speculative_generate(
    engine: CppDecodeEngine, draft: NgramDraft, prompt: bytes, n_new: int, gamma: int
) -> SpeculativeRun:
    """Greedy speculative decoding of n_new bytes after prompt with draft length gamma."""
    if gamma < 1:
        raise ValueError(f"draft length gamma must be >= 1, got {gamma}")
    check_generation(engine.cfg.block_size, prompt, n_new)
    engine.reset()
    if len(prompt) > 1:
        engine.forward(prompt[:-1])
    context, last, out = bytearray(prompt), prompt[-1], bytearray()
    run = SpeculativeRun(b"", 0.0, 0.0, 0, 0, 0, 0, float("nan"))
    prefill_active, prefill_total = engine.union_counts
    t0 = time.perf_counter()
    while len(out) < n_new:
        g = min(gamma, n_new - len(out) - 1)  # never draft past the bytes asked for
        td = time.perf_counter()
        proposal = draft.propose(context, g)
        run.draft_seconds += time.perf_counter() - td
        start = engine.pos
        preds = engine.forward([last, *proposal]).argmax(dim=-1).tolist()
        k = 0
        while k < g and proposal[k] == preds[k]:
            k += 1
        engine.rollback(start + k + 1)  # keep last and the accepted draft bytes
        new = [*proposal[:k], preds[k]]
        out += bytes(new)
        context += bytes(new)
        last = preds[k]
        run.rounds += 1
        run.drafted += g
        run.accepted += k
        run.rejections += k < g
    run.seconds = time.perf_counter() - t0
    run.out = bytes(out)
    active, total = engine.union_counts
    if total > prefill_total:  # sparse paths count their unions; the dense path does not
        run.union_sparsity = 1.0 - (active - prefill_active) / (total - prefill_total)
    return run


VERIFY_PATHS = {"standard": "dense", "aggregated": "sparse"}  # kind -> engine FFN path


def measured_rows(
    model: ByteGPT,
    draft: NgramDraft,
    prompt: bytes,
    n_new: int,
    gammas: list[int],
    repeats: int,
    down_share: float,
) -> list[dict[str, Any]]:
    """Wall-clock speculative decoding per gamma with dense ("standard") and sparse
    ("aggregated") verification, beside Theorems 1-2 fed with what the run measured: c
    (draft seconds per byte over a dense autoregressive step), alpha, and the union
    sparsity of the verification passes. This engine skips only the down projection, so
    the prediction uses down_share * s_agg (the formula's kind aggregated_down).

    Each timing is the best of `repeats`; the autoregressive baseline and the kinds take
    turns before every gamma, so a drift in the machine's speed hits them alike (with the
    baseline timed once per repeat, a slow spell once halved it for a whole run).
    """
    engines = {kind: CppDecodeEngine(model, path) for kind, path in VERIFY_PATHS.items()}
    ar: list[tuple[bytes, float]] = []
    runs: dict[tuple[str, int], list[SpeculativeRun]] = {}
    for _ in range(repeats):
        for gamma in gammas:
            ar.append(engines["standard"].generate(prompt, n_new))
            for kind, engine in engines.items():
                run = speculative_generate(engine, draft, prompt, n_new, gamma)
                runs.setdefault((kind, gamma), []).append(run)
    ar_out, ar_speed = ar[0][0], max(speed for _, speed in ar)
    best = {key: min(rs, key=lambda r: r.seconds) for key, rs in runs.items()}
    rows = []
    for (kind, gamma), run in best.items():
        c = run.draft_seconds / max(run.drafted, 1) * ar_speed
        s = run.union_sparsity if kind == "aggregated" else 0.0
        skip = down_share * s
        alpha = min(run.alpha, 1.0 - 1e-9)  # every draft accepted: Theorem 2's limit
        rows.append(
            {
                "kind": kind,
                "source": "measured",
                "c": c,
                "alpha": run.alpha,
                "gamma": gamma,
                "s_agg": s,
                "speedup_vs_standard": best[("standard", gamma)].seconds / run.seconds,
                "speedup_vs_autoregressive": n_new / run.seconds / ar_speed,
                "predicted_speedup_vs_standard": speedup_vs_standard(c, gamma, skip),
                "predicted_speedup_vs_autoregressive": speedup_vs_autoregressive(
                    c, gamma, skip, alpha
                ),
                "bytes_per_s": n_new / run.seconds,
                "autoregressive_bytes_per_s": ar_speed,
                "accepted_per_round": run.accepted / run.rounds,
                "greedy_identical": run.out == ar_out,
                "threads": ENGINE_THREADS,
                "isa": K.isa_name(),
                "cpu_model": K.cpu_model(),
            }
        )
    for kind in VERIFY_PATHS:
        mine = [r for r in rows if r["kind"] == kind]
        top = max(mine, key=lambda r: r["speedup_vs_autoregressive"])
        for r in mine:
            r["optimal"] = r is top
    return rows
