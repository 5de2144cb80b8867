"""Huge pages vs 4K pages for the down-projection kernels, 768x3072, 12 layers, 1 thread."""

import mmap
import sys

import numpy as np
import torch

from actsparse.inference import benchmark as B
from actsparse.inference import kernels as K
from actsparse.inference.timing import time_pairs

HUGE = 2 << 20
keep = []


def huge_copy(t, advise=True):
    n = t.numel() * t.element_size()
    size = ((n + HUGE - 1) // HUGE + 1) * HUGE
    mm = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    addr = np.frombuffer(mm, dtype=np.uint8).ctypes.data
    off = (-addr) % HUGE
    if advise:
        mm.madvise(mmap.MADV_HUGEPAGE, 0, size)
    out = torch.frombuffer(mm, dtype=t.dtype, count=t.numel(), offset=off).view(t.shape)
    out.copy_(t)
    keep.append(mm)
    return out


def anon_huge():
    for line in open("/proc/self/smaps_rollup"):
        if line.startswith("AnonHugePages"):
            return line.strip()


torch.set_num_threads(1)
L4 = B.Layers.random(12, 768, 3072)
print(anon_huge())
LH = B.Layers(
    [huge_copy(w) for w in L4.w_up],
    L4.b_up,
    [huge_copy(w) for w in L4.w_down],
    L4.b_down,
    [huge_copy(w) for w in L4.wt_down],
)
print(anon_huge(), "cpu", K.cpu_model(), "isa", K.isa_name())
isa = sys.argv[1] if len(sys.argv) > 1 else None
N = 12


def pairs_on(layers, inputs, full):
    """(torch mv, kernel) pairs on one set of pages: sparse_down, its read ceiling, own dense."""

    def mv(i):
        return torch.mv(layers.w_down[i % N], inputs[i % 8])

    return [
        (mv, lambda i: K.sparse_down(inputs[i % 8], layers.wt_down[i % N], None, 1, isa)),
        (mv, lambda i: K.read_rows(inputs[i % 8], layers.wt_down[i % N], 1, isa)),
        (mv, lambda i: K.sparse_down(full[i % 8], layers.wt_down[i % N], None, 1, isa)),
    ]


for s in (0.875, 0.9):
    inputs = B.synthetic_activations(3072, s, 8, seed=int(s * 1000))
    full = [torch.rand(3072) + 0.5 for _ in range(8)]
    pairs, names = [], []
    for tag, layers in (("4k", L4), ("2m", LH)):
        pairs += pairs_on(layers, inputs, full)
        names += [f"{tag} sparse_down", f"{tag} read_rows", f"{tag} own_dense"]
    res = time_pairs(pairs, 200, 20)
    for nm, (b, t) in zip(names, res, strict=True):
        print(
            f"s={s} {nm:18s} kernel {t.median:7.1f} us   torch mv (same pages) {b.median:7.1f} us"
        )
