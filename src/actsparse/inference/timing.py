"""Timing calls honestly on a shared machine: every call timed one by one, warm-up calls
discarded, kernels taking turns with their baselines call by call in a shuffled order, so
a drift in the machine's speed hits every kernel alike. Speed is reported, never asserted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Timing:
    median: float
    p10: float
    p90: float


def time_calls(fn: Callable[[int], object], calls: int, warmup: int) -> Timing:
    """Time fn(i) for i = 0.. (the caller cycles layers and inputs by i), in microseconds."""
    for i in range(warmup):
        fn(i)
    t = np.empty(calls)
    for i in range(calls):
        t0 = time.perf_counter_ns()
        fn(warmup + i)
        t[i] = (time.perf_counter_ns() - t0) / 1e3
    return _timing(t)


def time_pair(
    base: Callable[[int], object], fn: Callable[[int], object], calls: int, warmup: int
) -> tuple[Timing, Timing]:
    """Time a baseline and a kernel call by call, alternating, so both see the same machine
    state: on a shared VM the speed of memory drifts between measurement periods, and a
    baseline timed minutes earlier can be off by 2x. Returns (baseline, kernel)."""
    return time_pairs([(base, fn)], calls, warmup)[0]


def time_pairs(
    pairs: Sequence[tuple[Callable[[int], object], Callable[[int], object]]],
    calls: int,
    warmup: int,
) -> list[tuple[Timing, Timing]]:
    """time_pair for several (baseline, kernel) pairs at once, taking turns call by call:
    a burst of interference from other tenants then hits every kernel alike instead of
    whichever happened to be timed during it (run one after another, two timings of the
    very same kernel differed by 1.5x). Each kernel call still follows its own baseline
    call, which streams a whole weight matrix through the caches. Every call gets the
    next index (the callers cycle layers and inputs by it), the kernel too: its index is
    one past its baseline's, so it never reads the matrix its baseline has just pulled
    into L3 (it did until 2026-12: a baseline reading the kernels' own layout, torch's
    `*_transposed` calls, left a 9.4 MB matrix in a 32 MiB L3, and our dense kernel then
    timed a median 213 us after it against 334 us after the others on one thread), and
    no pair finds the layer the pair before it just read still in cache. The turn order
    is shuffled every round (a fixed seed), so each kernel follows every other alike:
    what a pair leaves behind slowed whichever kernel came after it (after the torch
    gather, a kernel timed 15-20% slower than the very same kernel elsewhere in the turn)."""
    n = len(pairs)
    tb, tf = np.empty((n, calls)), np.empty((n, calls))
    rng = np.random.default_rng(0)
    for i in range(warmup + calls):
        for pos, j in enumerate(rng.permutation(n)):
            k = 2 * (i * n + pos)
            base, fn = pairs[j]
            t0 = time.perf_counter_ns()
            base(k)
            t1 = time.perf_counter_ns()
            fn(k + 1)
            t2 = time.perf_counter_ns()
            if i >= warmup:
                tb[j, i - warmup], tf[j, i - warmup] = (t1 - t0) / 1e3, (t2 - t1) / 1e3
    return [(_timing(tb[j]), _timing(tf[j])) for j in range(len(pairs))]


def _timing(t: np.ndarray) -> Timing:
    return Timing(float(np.median(t)), float(np.percentile(t, 10)), float(np.percentile(t, 90)))
