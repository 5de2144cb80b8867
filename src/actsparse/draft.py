"""The draft model of measured speculative decoding: a greedy byte n-gram model.

Speculative decoding needs a draft far cheaper than the target (RSB's c is 0.01-0.05).
A byte n-gram table fitted on the training split costs a few dictionary lookups per byte,
needs no training run, and still guesses many English bytes (the rest of a word, spaces
after punctuation), so it gives a real acceptance rate rather than an assumed one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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
