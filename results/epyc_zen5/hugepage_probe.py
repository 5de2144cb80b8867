"""Do 4 KiB pages cost the row-skipping kernels their missing fraction of ideal? On this VM
transparent huge pages are `madvise` only, so torch's weights sit in 4 KiB pages, and a
scattered 3 KiB row lands in a page of its own. This times our dense kernel (no zeros),
sparse_down and read_rows at 768 x 3072, 12 layers cycled, 1 thread, with the weights in
ordinary pages and again in 2 MiB pages (an anonymous mapping advised MADV_HUGEPAGE before
it is touched), each kernel paired call by call with the dense one as kernel_benchmark does.
Usage: python results/epyc_zen5/hugepage_probe.py [ISA ...] (default: avx512 avx2)."""

import mmap
import sys

import numpy as np
import torch

from actsparse.inference import kernels as K
from actsparse.inference.benchmark import synthetic_activations
from actsparse.inference.timing import time_pairs

D, F, LAYERS, CALLS, WARMUP = 768, 3072, 12, 200, 20
HUGE = 2 << 20


def anon_hugepages_kib() -> int:
    for line in open("/proc/meminfo"):
        if line.startswith("AnonHugePages:"):
            return int(line.split()[1])
    return -1


def weights_in(huge: bool, source: list[torch.Tensor]) -> tuple[list[torch.Tensor], mmap.mmap]:
    """All layers in one anonymous mapping, 2 MiB aligned, advised huge before first touch."""
    per = F * D * 4
    size = LAYERS * per + 2 * HUGE
    region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if huge:
        region.madvise(mmap.MADV_HUGEPAGE)
    base = np.frombuffer(region, dtype=np.uint8)
    start = (-base.ctypes.data) % HUGE
    out = []
    for i, w in enumerate(source):
        view = base[start + i * per : start + (i + 1) * per].view(np.float32).reshape(F, D)
        t = torch.from_numpy(view)
        t.copy_(w)
        out.append(t)
    return out, region


def main(isas: list[str]) -> None:
    g = torch.Generator().manual_seed(0)
    source = [torch.randn(F, D, generator=g) for _ in range(LAYERS)]
    print(f"cpu_model: {K.cpu_model()}")
    for isa in isas:
        if isa not in K.supported_isas():
            print(f"{isa}: not on this CPU")
            continue
        for huge in (False, True, False, True):
            before = anon_hugepages_kib()
            wts, region = weights_in(huge, source)
            pages = "2 MiB" if huge else "4 KiB"
            got = anon_hugepages_kib() - before
            dense_in = [torch.rand(F, generator=g) + 0.1 for _ in range(8)]

            def dense(i: int, wts=wts, x=dense_in, isa=isa) -> object:
                return K.sparse_down(x[i % 8], wts[i % LAYERS], None, 1, isa, "auto")

            for s in (0.875, 0.9):
                acts = synthetic_activations(F, s, 8, seed=1)

                def sparse(i: int, wts=wts, a=acts, isa=isa) -> object:
                    return K.sparse_down(a[i % 8], wts[i % LAYERS], None, 1, isa, "auto")

                def ceiling(i: int, wts=wts, a=acts, isa=isa) -> object:
                    return K.read_rows(a[i % 8], wts[i % LAYERS], 1, isa)

                (d1, sp), (d2, rc) = time_pairs([(dense, sparse), (dense, ceiling)], CALLS, WARMUP)
                ideal = 1 / (1 - s)
                print(
                    f"{isa} {pages} pages (+{got // 1024} MiB huge) s={s}: dense "
                    f"{d1.median:.0f}/{d2.median:.0f} us, sparse_down {sp.median:.1f} us = "
                    f"{d1.median / sp.median / ideal:.3f} of ideal, read_rows "
                    f"{rc.median:.1f} us = {d2.median / rc.median / ideal:.3f}",
                    flush=True,
                )
            del wts, region, dense, sparse, ceiling  # unmapped once nothing refers to it


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1:] or ["avx512", "avx2"])
