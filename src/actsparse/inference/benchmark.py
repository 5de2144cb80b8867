"""Wall-clock measurement of the sparse FFN kernels against the best dense implementation.

Honest timing rules: every call uses the next layer's weights (all layers cycled, so a
weight matrix is never still in cache from the previous call unless the whole model fits);
warm-up calls are discarded; at least `calls` calls are timed one by one; the dense
baseline is the fastest of several torch formulations on the same data, per shape and
thread count, and the ideal speedup is measured from the best dense implementation in the
run: that torch call or this project's own kernel on a vector with no zeros, whichever is
faster (`best_dense_impl`); the torch-relative speedup stays beside it. Every row records
the instruction set that ran and the CPU; the synthetic sweep times each kernel path the
config names (`kernels.isas`), each against the best dense of its own path, so the table
shows what a CPU without AVX-512 gets. Speed is reported, never asserted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from actsparse.core.model import ByteGPT
from actsparse.inference import kernels as K
from actsparse.inference.timing import Timing, time_calls, time_pair, time_pairs
from actsparse.methods.pruning import magnitude_mask


@dataclass
class Layers:
    """The FFN weights of every layer, in torch's and the kernels' layouts."""

    w_up: list[torch.Tensor]  # [F, D] (c_fc.weight)
    b_up: list[torch.Tensor]
    w_down: list[torch.Tensor]  # [D, F] (c_proj.weight)
    b_down: list[torch.Tensor]
    wt_down: list[torch.Tensor]  # [F, D]

    @classmethod
    def random(cls, n_layer: int, d: int, f: int, seed: int = 0) -> Layers:
        g = torch.Generator().manual_seed(seed)
        w_up = [torch.randn(f, d, generator=g) * 0.02 for _ in range(n_layer)]
        w_down = [torch.randn(d, f, generator=g) * 0.02 for _ in range(n_layer)]
        return cls.of(w_up, [torch.zeros(f)] * n_layer, w_down, [torch.zeros(d)] * n_layer)

    @classmethod
    def of(cls, w_up, b_up, w_down, b_down) -> Layers:  # noqa: ANN001
        return cls(
            [w.detach().contiguous() for w in w_up],
            [b.detach() for b in b_up],
            [w.detach().contiguous() for w in w_down],
            [b.detach() for b in b_down],
            [K.transpose_down(w) for w in w_down],
        )

    @classmethod
    def from_model(cls, model: ByteGPT) -> tuple[Layers, float]:
        """The model's own FFN weights, and the weight sparsity of its down projections."""
        mlps = [b.mlp for b in model.h]
        layers = cls.of(
            [m.c_fc.weight for m in mlps],
            [m.c_fc.bias for m in mlps],
            [m.c_proj.weight for m in mlps],
            [m.c_proj.bias for m in mlps],
        )
        zeros = sum(int((w == 0).sum()) for w in layers.w_down)
        return layers, zeros / sum(w.numel() for w in layers.w_down)

    def __len__(self) -> int:
        return len(self.w_up)


Candidate = Callable[[torch.Tensor, int], torch.Tensor]


def dense_down_candidates(layers: Layers) -> dict[str, Candidate]:
    """Dense formulations of y = W_down a; which is fastest varies by shape (up to 2.6x)."""
    n = len(layers)
    return {
        "mv": lambda a, i: torch.mv(layers.w_down[i % n], a),
        "mv_transposed": lambda a, i: torch.mv(layers.wt_down[i % n].t(), a),
        "linear": lambda a, i: F.linear(a, layers.w_down[i % n]),
        "vecmat_transposed": lambda a, i: a @ layers.wt_down[i % n],
    }


def fastest(
    candidates: dict[str, Candidate], inputs: Sequence[torch.Tensor], calls: int, warmup: int
) -> tuple[str, Timing]:
    """Time every candidate on the same inputs (layers cycled by call index); keep the best."""
    timed = {
        name: time_calls(lambda i, fn=fn: fn(inputs[i % len(inputs)], i), calls, warmup)
        for name, fn in candidates.items()
    }
    best = min(timed, key=lambda name: timed[name].median)
    return best, timed[best]


def dense_up_candidates(layers: Layers) -> dict[str, Candidate]:
    """Dense formulations of h = W_up x + b (W_up is [F, D])."""
    n = len(layers)
    return {
        "linear": lambda x, i: F.linear(x, layers.w_up[i % n], layers.b_up[i % n]),
        "mv": lambda x, i: torch.mv(layers.w_up[i % n], x) + layers.b_up[i % n],
        "addmv": lambda x, i: torch.addmv(layers.b_up[i % n], layers.w_up[i % n], x),
    }


def synthetic_activations(f: int, sparsity: float, count: int, seed: int = 0) -> list:
    """ReLU-like vectors with exactly round(sparsity * f) zeros at random places."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        a = torch.rand(f, generator=g) + 0.01
        a[torch.randperm(f, generator=g)[: int(round(sparsity * f))]] = 0.0
        out.append(a)
    return out


def block_prune(layers: Layers, ratio: float) -> list[K.BlockSparse]:
    out = []
    for wt in layers.wt_down:
        out.append(K.BlockSparse.from_dense(wt * magnitude_mask(wt, ratio, "block16", 1)))
    return out


OWN_DENSE = "own:sparse_down@s0"  # this project's kernel on a vector with no zeros


def row(
    kernel: str,
    t: Timing,
    dense: Timing,
    dense_impl: str,
    ideal: float,
    best: tuple[str, float] | None = None,
    isa: str | None = None,
    **extra: object,
) -> dict:
    """One timed kernel. dense is its paired torch baseline; best is (the best dense
    implementation, how much faster than that torch call it ran), None when torch's is
    the best; speedup_vs_dense and fraction_of_ideal are against the best."""
    best_impl, factor = best if best is not None else (dense_impl, 1.0)
    vs_torch = dense.median / t.median
    speedup = vs_torch / factor
    strategy = extra.get("strategy")
    return {
        "variant": f"{kernel}:{strategy}" if strategy else kernel,
        "kernel": kernel,
        "latency_us_median": t.median,
        "latency_us_p10": t.p10,
        "latency_us_p90": t.p90,
        "dense_latency_us": dense.median,
        "dense_impl": dense_impl,
        "speedup_vs_torch": vs_torch,
        "best_dense_impl": best_impl,
        "best_dense_latency_us": dense.median / factor,
        "speedup_vs_dense": speedup,
        "ideal_speedup": ideal,
        "fraction_of_ideal": speedup / ideal,
        "isa": K.isa_name(isa),
        "best_isa": K.isa_name(isa) == K.isa_name(),
        "cpu_model": K.cpu_model(),
        "row_prefetch": K.row_prefetch(),
        **extra,
    }


def bench_down_family(
    layers: Layers,
    inputs: Sequence[torch.Tensor],
    threads: int,
    calls: int,
    warmup: int,
    block_ratio: float,
    include_torch_gather: bool = True,
    isa: str | None = None,
) -> list[dict]:
    """All kernels at one (shape, thread count, activation set); inputs share one sparsity.
    Our kernels run the path `isa` (None: the default); torch's run as they do."""
    torch.set_num_threads(threads)
    n, ni = len(layers), len(inputs)
    dense_impl, _ = fastest(dense_down_candidates(layers), inputs, calls, warmup)
    density = float(np.mean([(a != 0).float().mean().item() for a in inputs]))
    rows = []

    dense_down = dense_down_candidates(layers)[dense_impl]

    def dense_fn(i: int) -> object:
        return dense_down(inputs[i % ni], i)

    pending: list[tuple[Callable[[int], object], Callable[[int], object], dict]] = []

    def add(
        kernel: str,
        fn: Callable[[int], object],
        ideal: float,
        base_fn: Callable[[int], object] = dense_fn,
        base_impl: str = dense_impl,
        **extra: object,
    ) -> None:  # timed below, all kernels of the family taking turns
        pending.append((base_fn, fn, dict(kernel=kernel, ideal=ideal, impl=base_impl, **extra)))

    ideal_down = 1.0 / max(density, 1e-9)
    for strategy in K.DOWN_STRATEGIES:
        add(
            "sparse_down",
            lambda i, s=strategy: K.sparse_down(
                inputs[i % ni], layers.wt_down[i % n], None, threads, isa, s
            ),
            ideal_down,
            strategy=strategy,
        )
    # The machine's bound: the same rows read, nothing computed or written. No row-skipping
    # kernel reads less, so its fraction of ideal is this CPU's ceiling for them all.
    add(
        "read_ceiling_down",
        lambda i: K.read_rows(inputs[i % ni], layers.wt_down[i % n], threads, isa),
        ideal_down,
    )
    if include_torch_gather:  # the torch-only alternative: nonzero + index_select + mv

        def gather(i: int) -> torch.Tensor:
            a, wt = inputs[i % ni], layers.wt_down[i % n]
            nz = a.nonzero().squeeze(1)
            return torch.mv(wt.index_select(0, nz).t(), a.index_select(0, nz))

        add("torch_gather_down", gather, ideal_down)
    packed = block_prune(layers, block_ratio)
    for strategy in K.BLOCK_STRATEGIES:
        add(
            "block_sparse_down",
            lambda i, s=strategy: K.block_sparse_down(
                inputs[i % ni], packed[i % n], None, threads, isa, s
            ),
            1.0 / max(density * (1 - block_ratio), 1e-9),
            weight_sparsity=block_ratio,
            strategy=strategy,
        )

    # Whole FFN at batch 1: up projection, ReLU, down projection. Both paths use the same
    # (fastest) dense torch call for the up projection; the dense path also uses the
    # fastest dense down call, so the ratio measures the sparse down projection alone. The
    # up output is replaced by the benchmark's pattern so every sparsity pays the same up.
    xs = [torch.randn(layers.w_up[0].shape[1]) for _ in range(ni)]
    up_impl, _ = fastest(dense_up_candidates(layers), xs, calls, warmup)
    up = dense_up_candidates(layers)[up_impl]

    # The up projection both paths share: torch's fastest, and this project's AVX-512 one
    # (all rows), which is faster than torch's GEMV here. The down baseline stays torch's.
    every = torch.arange(layers.w_up[0].shape[0])
    shared_up = {
        "torch_up": (up_impl, lambda i: torch.relu(up(xs[i % ni], i))),
        "own_up": (
            "own",
            lambda i: K.up_indexed(
                xs[i % ni], layers.w_up[i % n], layers.b_up[i % n], every, True, threads, isa
            ),
        ),
    }

    def dense_ffn(up_relu: Callable[[int], torch.Tensor]) -> Callable[[int], torch.Tensor]:
        return lambda i: dense_down(up_relu(i), i) + layers.b_down[i % n]

    def sparse_ffn(up_relu: Callable[[int], torch.Tensor]) -> Callable[[int], torch.Tensor]:
        def ffn(i: int) -> torch.Tensor:
            up_relu(i)  # computed, then replaced by the benchmark's activation pattern
            return K.sparse_down(
                inputs[i % ni], layers.wt_down[i % n], layers.b_down[i % n], threads, isa
            )

        return ffn

    for name, (impl, up_relu) in shared_up.items():
        add(
            "ffn_dense_up_sparse_down",
            sparse_ffn(up_relu),
            2.0 / (1.0 + density),
            dense_ffn(up_relu),
            f"up:{impl}+down:{dense_impl}",
            strategy=name,
        )

    # This project's dense path: the same kernel on vectors with no zeros (it skips
    # nothing), paired with the torch baseline like every kernel; the faster of the two is
    # the best dense the family's sparse-down rows are measured against.
    full = [
        torch.rand(a.shape[0], generator=torch.Generator().manual_seed(j)) + 0.5
        for j, a in enumerate(inputs)
    ]
    add(
        "dense_down",
        lambda i: K.sparse_down(full[i % ni], layers.wt_down[i % n], None, threads, isa),
        1.0,
        strategy="own",
    )

    idx = [a.nonzero().squeeze(1) for a in inputs]

    def ffn_indexed(i: int) -> torch.Tensor:
        h = K.up_indexed(
            xs[i % ni], layers.w_up[i % n], layers.b_up[i % n], idx[i % ni], True, threads, isa
        )
        return K.sparse_down(h, layers.wt_down[i % n], layers.b_down[i % n], threads, isa)

    add(
        "ffn_indexed_up_sparse_down",
        ffn_indexed,
        ideal_down,
        dense_ffn(shared_up["torch_up"][1]),
        f"up:{up_impl}+down:{dense_impl}",
    )
    timings = time_pairs([(base, fn) for base, fn, _ in pending], calls, warmup)
    own = next(
        base.median / t.median
        for (base, t), (_, _, info) in zip(timings, pending, strict=True)
        if info["kernel"] == "dense_down"
    )
    best = (OWN_DENSE, own) if own > 1.0 else None
    for (base, t), (_, _, info) in zip(timings, pending, strict=True):
        kernel, ideal, impl = info.pop("kernel"), info.pop("ideal"), info.pop("impl")
        # The whole-FFN rows keep their own composite baselines (torch's down in both
        # paths), so the best dense down applies to the down-projection rows only.
        mine = best if impl == dense_impl and not kernel.startswith("ffn_") else None
        rows.append(
            row(kernel, t, base, impl, ideal, mine, isa, density=density, threads=threads, **info)
        )
    return rows


def bench_batches(
    layers: Layers,
    sparsity: float,
    batches: Sequence[int],
    threads: int,
    calls: int,
    warmup: int,
    seed: int = 0,
    isa: str | None = None,
) -> list[dict]:
    """Batch B <= 8 with independent random patterns, against dense batched F.linear."""
    torch.set_num_threads(threads)
    n, f = len(layers), layers.wt_down[0].shape[0]
    rows = []
    for b in batches:
        inputs = [
            torch.stack(synthetic_activations(f, sparsity, b, seed + 7 * j)) for j in range(8)
        ]
        union = float(np.mean([(x != 0).any(0).float().mean().item() for x in inputs]))
        dense, t = time_pair(
            lambda i, x=inputs: F.linear(x[i % 8], layers.w_down[i % n]),
            lambda i, x=inputs: K.sparse_down_batch(
                x[i % 8], layers.wt_down[i % n], None, threads, isa
            ),
            calls,
            warmup,
        )
        rows.append(
            row(
                "sparse_down_batch",
                t,
                dense,
                "linear_batched",
                1.0 / union,
                isa=isa,
                density=union,
                threads=threads,
                batch=b,
                sparsity=sparsity,
            )
        )
    return rows


def swept_isas(wanted: Sequence[str]) -> list[str]:
    """The default path first, then each other path in `wanted` this CPU runs (a path it
    lacks is left out, and said so on stderr: a laptop's table must not claim AVX-512)."""
    out = [K.isa_name()]
    for isa in wanted:
        if isa not in K.ISAS:
            raise K.KernelIsaError(f"kernels.isas: {isa!r} is not a kernel ISA ({sorted(K.ISAS)})")
        if isa not in K.supported_isas():
            print(f"kernels.isas: this CPU cannot run {isa}; not timed", file=sys.stderr)
        elif isa not in out:
            out.append(isa)
    return out


def synthetic_rows(shape: Mapping[str, int], sweep: Mapping[str, Any]) -> list[dict]:
    """The synthetic sweep at one shape ({d_model, d_ffn, n_layer}): every kernel,
    sparsity, thread count and kernel path of `sweep` (the config's `kernels` section)."""
    d, f, n_layer = shape["d_model"], shape["d_ffn"], shape["n_layer"]
    calls, warmup, batch_sparsity = sweep["calls"], sweep["warmup"], sweep["batch_sparsity"]
    sparsities, threads, batches = sweep["sparsities"], sweep["threads"], sweep["batches"]
    block_ratio = sweep["block_ratio"]
    layers = Layers.random(n_layer, d, f)
    rows = []
    for isa in swept_isas(sweep["isas"]):
        for t in threads:
            for s in sparsities:
                inputs = synthetic_activations(f, s, 8, seed=int(s * 1000))
                family = bench_down_family(layers, inputs, t, calls, warmup, block_ratio, isa=isa)
                rows += [{**r, "pattern": "synthetic", "sparsity": s} for r in family]
            batched = bench_batches(layers, batch_sparsity, batches, t, calls, warmup, isa=isa)
            rows += [{**r, "pattern": "synthetic"} for r in batched]
    at = {"d_model": d, "d_ffn": f, "n_layer": n_layer}
    return [{**at, **r} for r in rows]


def real_rows(
    model_name: str,
    layers: Layers,
    acts: list[torch.Tensor],
    weight_sparsity: float,
    threads: Sequence[int],
    calls: int,
    warmup: int,
) -> list[dict]:
    """Recorded activations with the model's own weights: acts[l] is [bytes, F] of layer l.

    Input j of the list pairs with layer j % n_layer, so cycling keeps each activation
    vector with the down projection it really feeds.
    """
    n = len(layers)
    n_bytes = min(a.shape[0] for a in acts)
    inputs = [acts[j % n][j // n].contiguous() for j in range(n * n_bytes)]
    ratio = weight_sparsity if weight_sparsity > 0.25 else 0.5
    rows = []
    for t in threads:
        for r in bench_down_family(layers, inputs, t, calls, warmup, ratio):
            rows.append(
                {
                    **r,
                    "variant": f"{model_name}:{r['variant']}",
                    "model": model_name,
                    "pattern": "real",
                }
            )
    d, f = layers.w_down[0].shape
    return [{"d_model": d, "d_ffn": f, "n_layer": n, **r} for r in rows]
