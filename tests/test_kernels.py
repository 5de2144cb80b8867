"""Every kernel equals the dense torch reference, on every code path (AVX-512, AVX2 + FMA and
portable), 1 and 2 threads, D a multiple of 16 or not, sparsity 0 to 1, random and
adversarial patterns.

Test ids name the code path, which the call forces (kernels' `isa`): a case of a path the CPU
lacks is skipped, with the reason, never run on another path under its name. Cases that would run
the same code on the same numbers are not generated: the portable path has one strategy,
two threads split columns in 128-wide tiles (so D <= 128 runs one), at sparsity 0 every
pattern is the same vector and at 1 random, leading and trailing are, and `auto` is the
interleave strategy whenever masks exist.

Tolerance: the kernels sum up to F fp32 terms in another order than torch, so each output
may differ by rounding of order sqrt(n) * eps * sum|terms|. We allow 2e-5 * sum|terms|
(+1e-6): ~3x the typical rounding at F = 3072, and ~1000x below the error of one missed or
wrong weight row.
"""

import dataclasses
import os
import sys
from pathlib import Path

import pytest
import torch

from actsparse.inference import kernels as K
from actsparse.methods.pruning import magnitude_mask

SHAPES = [(1024, 256), (3072, 768), (100, 37), (48, 16), (64, 200)]  # (F, D)
SPARSITIES = [0.0, 0.5, 0.9, 1.0]
PATHS = [pytest.param(isa, id=isa) for isa in K.ISAS]


def needs_path(isa: str) -> None:
    """Skip, saying why, a case of a code path this CPU cannot run."""
    if isa not in K.supported_isas():
        pytest.skip(f"this CPU ({K.cpu_model()}) cannot run the {isa} path")


def patterns_at(sparsity: float) -> list[str]:
    if sparsity == 0.0:
        return ["random"]  # no zeros: every pattern is the same vector
    if sparsity == 1.0:
        return ["random", "strided"]  # random, leading, trailing: all zeros
    return ["random", "leading", "trailing", "strided"]


def sparse_down_cases():
    for isa in K.ISAS:
        for strategy in ("rows",) if isa == "portable" else ("tiles", "rows"):
            for f, d in SHAPES:
                for threads in (1, 2) if d > 128 else (1,):
                    for s in SPARSITIES:
                        for pattern in patterns_at(s):
                            yield pytest.param(
                                isa,
                                strategy,
                                (f, d),
                                threads,
                                s,
                                pattern,
                                id=f"{isa}-{strategy}-{f}x{d}-t{threads}-s{s}-{pattern}",
                            )


def block_cases():
    for isa in K.ISAS:
        for strategy in ("rows",) if isa == "portable" else ("auto", "group", "rows"):
            for f, d in SHAPES:
                for s in SPARSITIES:
                    for ratio in (0.0, 0.5, 0.9):
                        yield pytest.param(
                            isa,
                            strategy,
                            (f, d),
                            s,
                            ratio,
                            id=f"{isa}-{strategy}-{f}x{d}-s{s}-r{ratio}",
                        )


def close(y: torch.Tensor, ref: torch.Tensor, abs_sum: torch.Tensor) -> None:
    """abs_sum: the same product over absolute values, the scale of rounding error."""
    bound = 2e-5 * abs_sum + 1e-6
    err = (y - ref).abs()
    assert torch.all(err <= bound), (
        f"max error {err.max():.3g}, bound there {bound[err.argmax()]:.3g}"
    )


def activations(f: int, sparsity: float, pattern: str, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(f, generator=g).abs() + 0.1
    if pattern == "random":
        a[torch.rand(f, generator=g) < sparsity] = 0
    elif pattern == "leading":  # all active neurons packed at the start
        a[int(round((1 - sparsity) * f)) :] = 0
    elif pattern == "trailing":  # only the last neurons (the scalar tail of the scan)
        a[: int(round(sparsity * f))] = 0
    elif pattern == "strided":  # one active neuron every k: each in its own 16-lane chunk
        k = max(1, int(round(1 / max(1e-9, 1 - sparsity)))) if sparsity < 1 else f + 1
        keep = torch.zeros(f, dtype=torch.bool)
        keep[::k] = True
        a[~keep] = 0
    return a


@pytest.fixture(scope="module")
def weights():
    g = torch.Generator().manual_seed(1)
    return {
        (f, d): (
            torch.randn(d, f, generator=g),
            torch.randn(d, generator=g),
            torch.randn(f, d, generator=g),
            torch.randn(f, generator=g),
        )
        for f, d in SHAPES
    }


@pytest.mark.parametrize(
    "isa, strategy, shape, threads, sparsity, pattern", list(sparse_down_cases())
)
def test_sparse_down_equals_dense(weights, isa, threads, shape, sparsity, pattern, strategy):
    needs_path(isa)
    w_down, b, _, _ = weights[shape]
    a = activations(shape[0], sparsity, pattern)
    y = K.sparse_down(a, K.transpose_down(w_down), b, threads, isa, strategy)
    close(y, w_down @ a + b, w_down.abs() @ a.abs() + b.abs())


def test_all_zero_activations_give_the_bias():
    w = torch.randn(37, 100)
    b = torch.randn(37)
    assert torch.equal(K.sparse_down(torch.zeros(100), K.transpose_down(w), b), b)
    assert torch.equal(K.sparse_down(torch.zeros(100), K.transpose_down(w)), torch.zeros(37))


def test_nan_activation_propagates_like_dense():
    a = torch.zeros(64)
    a[5] = float("nan")
    assert torch.isnan(K.sparse_down(a, torch.randn(64, 32))).all()


@pytest.mark.parametrize("isa", PATHS)
@pytest.mark.parametrize("batch", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("sparsity", SPARSITIES)
def test_sparse_down_batch_equals_dense(weights, isa, batch, shape, sparsity):
    needs_path(isa)
    w_down, b, _, _ = weights[shape]
    A = torch.stack([activations(shape[0], sparsity, "random", seed=s) for s in range(batch)])
    for threads in (1, 2):
        close(
            K.sparse_down_batch(A, K.transpose_down(w_down), b, threads, isa),
            A @ w_down.t() + b,
            A.abs() @ w_down.abs().t() + b.abs(),
        )


@pytest.mark.parametrize("isa", PATHS)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(3072, 768), (100, 37), (64, 200)])
@pytest.mark.parametrize("sparsity", [0.5, 0.9, 1.0])
def test_read_ceiling_sums_exactly_the_active_rows(weights, isa, threads, shape, sparsity):
    """The ceiling probe reads every active row whole and nothing else: its sum is the
    active rows' sum (a row it skipped or read twice would show at this tolerance)."""
    needs_path(isa)
    f, _ = shape
    # positive entries: a row skipped or read twice moves the sum by its own, ~1.8 d
    wt = K.transpose_down(weights[shape][0]).abs() + 1
    a = activations(f, sparsity, "random", seed=3)
    ref = wt[a != 0].double().sum().item()
    assert K.read_rows(a, wt, threads, isa) == pytest.approx(ref, rel=1e-4)


def test_batch_over_eight_is_rejected():
    with pytest.raises(RuntimeError, match="1..8"):
        K.sparse_down_batch(torch.zeros(9, 16), torch.zeros(16, 16))


@pytest.mark.parametrize("isa, strategy, shape, sparsity, ratio", list(block_cases()))
def test_block_sparse_down_equals_dense(weights, isa, shape, sparsity, ratio, strategy):
    needs_path(isa)
    w_down, b, _, _ = weights[shape]
    wt = K.transpose_down(w_down)
    wt = wt * magnitude_mask(wt, ratio, "block16", d_axis=1)
    packed = K.BlockSparse.from_dense(wt)
    assert packed.density == pytest.approx(1 - ratio, abs=0.05)
    a = activations(shape[0], sparsity, "random")
    for threads in (1, 2):
        close(
            K.block_sparse_down(a, packed, b, threads, isa, strategy),
            wt.t() @ a + b,
            wt.abs().t() @ a.abs() + b.abs(),
        )


@pytest.mark.parametrize("isa", PATHS)
@pytest.mark.parametrize("d", [1024, 1040])  # 64 blocks (the mask's top bit), 65 (no masks)
@pytest.mark.parametrize("strategy", K.BLOCK_STRATEGIES)
def test_block_sparse_down_at_the_mask_width(isa, d, strategy):
    needs_path(isa)
    g = torch.Generator().manual_seed(d)
    wt = torch.randn(40, d, generator=g)
    wt = wt * magnitude_mask(wt, 0.5, "block16", d_axis=1)
    wt[3] = 0  # a row that keeps no block
    wt[7, :16] = 0
    wt[7, -16:] = 1.0  # a row keeping the last block only
    wt[7, 16:-16] = 0
    packed = K.BlockSparse.from_dense(wt)
    assert (packed.masks.numel() > 0) == (d <= 1024)
    a = activations(40, 0.3, "random", seed=1)
    a[3] = a[7] = 2.0
    for threads in (1, 2):
        close(
            K.block_sparse_down(a, packed, None, threads, isa, strategy),
            wt.t() @ a,
            wt.abs().t() @ a.abs(),
        )


def test_block_masks_of_the_wrong_length_are_rejected():
    packed = K.BlockSparse.from_dense(torch.randn(8, 32))
    with pytest.raises(RuntimeError, match="masks must be contiguous int64"):  # when made
        dataclasses.replace(packed, masks=packed.masks[:4].contiguous())
    with pytest.raises(RuntimeError, match="masks must be contiguous int64"):  # or passed raw
        _raw_block(masks=packed.masks[:4].contiguous())()


@pytest.mark.parametrize("strategy", K.BLOCK_STRATEGIES)
def test_block_sparse_down_nan_activation_propagates(strategy):
    wt = torch.randn(64, 48)
    a = torch.zeros(64)
    a[9] = float("nan")
    y = K.block_sparse_down(a, K.BlockSparse.from_dense(wt), None, 1, None, strategy)
    assert torch.isnan(y).all()


@pytest.mark.parametrize("isa", PATHS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("relu", [True, False])
def test_up_indexed_equals_dense_rows(weights, isa, shape, relu):
    needs_path(isa)
    _, _, w_up, b_up = weights[shape]
    f, d = shape
    x = torch.randn(d)
    idx = torch.randperm(f)[: f // 3]
    for threads in (1, 2):
        h = K.up_indexed(x, w_up, b_up, idx, relu, threads, isa)
        full = w_up @ x + b_up
        ref = torch.zeros(f)
        ref[idx] = torch.relu(full[idx]) if relu else full[idx]
        close(h, ref, w_up.abs() @ x.abs() + b_up.abs())


def test_up_indexed_rejects_out_of_range_indices():
    with pytest.raises(RuntimeError, match="out of range"):
        K.up_indexed(torch.zeros(16), torch.zeros(8, 16), None, torch.tensor([8]))


def test_wrong_dtype_is_rejected_with_a_clear_error():
    with pytest.raises(RuntimeError, match="float32"):
        K.sparse_down(torch.zeros(8, dtype=torch.float64), torch.zeros(8, 4))


def test_missing_compiler_gives_a_clear_error(monkeypatch):
    monkeypatch.setenv("CXX", "no-such-compiler-xyz")
    K.extension.cache_clear()
    try:
        with pytest.raises(K.KernelBuildError, match="C\\+\\+ compiler"):
            K.extension()
    finally:
        monkeypatch.delenv("CXX")
        K.extension.cache_clear()


def test_time_pairs_take_turns_with_fresh_indices_and_pair_each_kernel_with_its_baseline():
    """Fresh indices for the kernel too: the callers pick the layer by index, and a kernel
    given its baseline's layer read that matrix from L3 when the baseline had just read the
    same tensor (torch's `*_transposed` baselines), which made it look up to 2.5x faster."""
    from actsparse.inference.timing import time_pairs

    seen: list[tuple[str, int]] = []

    def rec(name):
        return lambda i: seen.append((name, i))

    out = time_pairs([(rec("b0"), rec("k0")), (rec("b1"), rec("k1"))], calls=3, warmup=1)
    assert len(out) == 2 and all(t.median >= 0 for pair in out for t in pair)
    # every round each pair takes one turn, baseline then kernel, in a shuffled order; a
    # kernel's index is one past its baseline's; no index repeats
    names = [n for n, _ in seen]
    rounds = [names[r : r + 4] for r in range(0, 16, 4)]
    assert all(sorted([r[:2], r[2:]]) == [["b0", "k0"], ["b1", "k1"]] for r in rounds)
    assert len({tuple(r) for r in rounds}) == 2  # both orders occur
    idx = [i for _, i in seen]
    assert idx[1::2] == [i + 1 for i in idx[0::2]] and sorted(idx) == list(range(16))


def test_benchmark_rows_measure_against_the_best_dense_and_say_what_ran():
    """Which dense is faster is measured, not asserted; what is checked is the bookkeeping:
    the fraction of ideal is taken from the best dense of the run, the torch-relative
    speedup stays beside it, and every row names the code path and the CPU."""
    from actsparse.inference import benchmark as B

    layers = B.Layers.random(2, 64, 256)
    inputs = B.synthetic_activations(256, 0.9, 4)
    rows = {r["variant"]: r for r in B.bench_down_family(layers, inputs, 1, 5, 1, 0.5)}
    own = rows["dense_down:own"]
    assert own["speedup_vs_dense"] == pytest.approx(min(1.0, own["speedup_vs_torch"]))
    for r in rows.values():
        assert r["isa"] == K.isa_name() and r["cpu_model"]
        assert r["fraction_of_ideal"] == pytest.approx(r["speedup_vs_dense"] / r["ideal_speedup"])
    down = rows["sparse_down:auto"]
    if own["speedup_vs_torch"] > 1:  # ours is the best dense: the speedup shrinks by it
        assert down["best_dense_impl"] == B.OWN_DENSE
        assert down["speedup_vs_dense"] == pytest.approx(
            down["speedup_vs_torch"] / own["speedup_vs_torch"]
        )
    else:
        assert down["best_dense_impl"] == down["dense_impl"]
        assert down["speedup_vs_dense"] == pytest.approx(down["speedup_vs_torch"])


LOAD = "from actsparse.inference import kernels as K; K.extension(); print('loaded')"

# sparse_down and read_rows on the AVX-512 path with the row prefetches forced on or off;
# prints the flag, y's bytes (hex) and the read ceiling's sum.
ROWS = """
import torch
from actsparse.inference import kernels as K
g = torch.Generator().manual_seed(5)
wt = torch.randn(3072, 200, generator=g)
a = torch.randn(3072, generator=g).abs() * (torch.rand(3072, generator=g) > 0.87)
y = K.sparse_down(a, wt, None, 1, "avx512", "rows")
print(K.row_prefetch(), y.numpy().tobytes().hex(), K.read_rows(a, wt, 1, "avx512"))
"""


@pytest.mark.parametrize("isa", [pytest.param("avx512", id="avx512")])
def test_row_prefetch_on_and_off_give_the_same_bits(isa):
    """The row streaming's two settings (prefetch on, 16 rows a pass: AMD; off, 8 rows:
    Intel) add the same products in the same order, so y is bit for bit the same; the
    setting a process ran is the one it reports."""
    import subprocess

    needs_path(isa)
    K.extension()  # built once here, so the subprocesses only load
    out = {}
    for flag in ("0", "1"):
        env = {**os.environ, "ACTSPARSE_ROW_PREFETCH": flag}
        proc = subprocess.run(
            [sys.executable, "-c", ROWS], capture_output=True, text=True, env=env, timeout=600
        )
        assert proc.returncode == 0, proc.stderr
        on, y_hex, total = proc.stdout.split()
        assert on == str(flag == "1")
        out[flag] = (y_hex, float(total))
    assert out["0"][0] == out["1"][0]
    assert out["0"][1] == pytest.approx(out["1"][1], rel=1e-5)


def test_a_lock_left_by_a_killed_build_is_removed_not_waited_on():
    """torch's build guard is a `lock` file a killed build leaves behind; every later
    build used to wait on it for ever, printing nothing."""
    import subprocess

    from actsparse.inference import kernels as K

    K.extension()  # built once here, so the subprocess only loads
    stale = K.build_dir() / "lock"
    stale.write_text("")  # what a build killed mid-compile leaves
    proc = subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "loaded" in proc.stdout, proc.stderr[-2000:]
    assert "removing a stale kernel build lock" in proc.stderr
    assert not stale.exists()


def test_a_second_checkout_loads_the_same_build_without_compiling(tmp_path):
    """The build is keyed by the kernels' bytes, not their path: a copy of the package
    elsewhere (a second clone, the test suite's workflow copy) finds the same directory,
    and ninja, compiling from the sources staged there, touches no object file."""
    import shutil
    import subprocess

    K.extension()
    build = K.build_dir()
    objects = {f: f.stat().st_mtime_ns for f in build.glob("*.o")}
    assert objects, f"no object files in {build}"
    pkg = Path(K.__file__).resolve().parents[1]
    shutil.copytree(pkg, tmp_path / "actsparse", ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "from actsparse.inference import kernels as K; K.extension(); "
        "print(K.__file__); print(K.build_dir())"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    where, other = proc.stdout.split()
    assert Path(where).is_relative_to(tmp_path)  # the copy's kernels module ran
    assert Path(other) == build
    assert {f: f.stat().st_mtime_ns for f in build.glob("*.o")} == objects


def test_the_build_runs_the_pip_ninja_whatever_ninja_is_first_on_path(tmp_path):
    """make test's pytest found the system's ninja (1.11) and the smoke workflow's jobs the
    virtual environment's (1.13), which hash commands differently: each switch recompiled
    every kernel. A ninja that fails, first on PATH, must never be run, and the build must
    load as it is."""
    import subprocess

    K.extension()
    build = K.build_dir()
    objects = {f: f.stat().st_mtime_ns for f in build.glob("*.o")}
    marker = tmp_path / "the_wrong_ninja_ran"
    fake = tmp_path / "ninja"
    fake.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        [sys.executable, "-c", LOAD], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0 and "loaded" in proc.stdout, proc.stderr[-2000:]
    assert not marker.exists()
    assert {f: f.stat().st_mtime_ns for f in build.glob("*.o")} == objects


def test_the_ninja_pin_restores_path():
    import shutil

    import ninja

    before = os.environ["PATH"]
    with K.pinned_ninja():
        assert Path(shutil.which("ninja")).parent == Path(ninja.BIN_DIR)
    assert os.environ["PATH"] == before


@pytest.mark.slow
def test_a_build_killed_mid_compile_leaves_the_next_one_to_succeed_unaided(tmp_path):
    """As a user's would be: a first build killed (a SLURM time limit, Ctrl-C) while the
    compiler runs, then the next run. The build is the portable-only one a CPU that is not
    x86 gets (ACTSPARSE_NO_SIMD: no x86 header, no intrinsic), in a fresh cache, so it
    always compiles from scratch; the kernel tests then run against it, every SIMD case
    skipped with its reason."""
    import signal
    import subprocess
    import time

    env = {**os.environ, "ACTSPARSE_CACHE": str(tmp_path), "ACTSPARSE_NO_SIMD": "1"}
    first = subprocess.Popen(
        [sys.executable, "-c", LOAD],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob("torch_extensions/*/build.ninja")):
        assert first.poll() is None and time.monotonic() < deadline, "the build never started"
        time.sleep(0.2)
    time.sleep(2)  # the compilers are running now
    assert first.poll() is None, "the build finished before it could be killed"
    os.killpg(first.pid, signal.SIGKILL)  # Python, ninja and the compilers
    first.wait()
    (build,) = tmp_path.glob("torch_extensions/*")
    assert (build / "lock").exists(), "a killed build leaves torch's lock file"

    check = LOAD + "; print(K.supported_isas())"
    again = subprocess.run(
        [sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=900
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "removing a stale kernel build lock" in again.stderr
    assert "('portable',)" in again.stdout  # the portable path alone, as on ARM
    tests = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-x",
            __file__,
            "-k",
            "equals_dense or bad_input or nan",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert " passed" in tests.stdout and "skipped" in tests.stdout


def test_a_second_build_waits_for_the_first_and_says_for_whom():
    """The holder keeps the lock until the waiting build has said whom it waits for (or 60
    s pass), so the test does not depend on how fast a Python starts."""
    import subprocess

    from actsparse.inference import kernels as K

    K.extension()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, select, sys\n"
            f"f = open({str(K.build_dir() / 'actsparse.lock')!r}, 'a+')\n"
            "fcntl.flock(f, fcntl.LOCK_EX); f.seek(0); f.truncate(); f.write(str(os.getpid()))\n"
            "f.flush(); print('held', flush=True)\n"
            "select.select([sys.stdin], [], [], 60)\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    loader = subprocess.Popen(
        [sys.executable, "-c", LOAD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    first = loader.stderr.readline()  # blocks until the loader speaks (or ends)
    assert holder.poll() is None, "the holder gave up before the loader said anything"
    holder.communicate("go\n", timeout=60)
    out, err = loader.communicate(timeout=600)
    assert loader.returncode == 0 and "loaded" in out, err[-2000:]
    assert f"waiting for the kernel build by PID {holder.pid}" in first


def _packed() -> K.BlockSparse:
    return K.BlockSparse.from_dense(torch.randn(8, 32, generator=torch.Generator().manual_seed(3)))


def _raw_block(**change):
    """block_sparse_down called on the extension directly, one argument changed."""
    p = _packed()
    args = dict(
        a=torch.ones(8),
        row_ptr=p.row_ptr,
        block_col=p.block_col,
        vals=p.values,
        masks=p.masks,
        d=32,
        bias=torch.empty(0),
        threads=1,
        isa=0,
        strategy=0,
    )
    return lambda: K.extension().block_sparse_down(*{**args, **change}.values())


def _engine_with(layer_change=None, **change):
    """The decode engine's constructor with one argument (or one layer tensor) changed."""
    from actsparse.core.model import ByteGPT
    from actsparse.inference.decode import engine_args
    from tests.conftest import tiny_config

    torch.manual_seed(0)
    args = list(engine_args(ByteGPT(tiny_config(activation="relu")), "sparse", "portable"))
    if layer_change is not None:
        name, tensor = layer_change
        if tensor is None:
            del args[0][0][name]
        else:
            args[0][0][name] = tensor
    for k, v in change.items():
        args[{"n_head": 6, "path": 11, "isa": 12}[k]] = v
    return lambda: K.extension().DecodeEngineCpp(*args)


BAD_INPUTS = {
    "sparse_down: float64": (
        lambda: K.sparse_down(torch.zeros(8, dtype=torch.float64), torch.zeros(8, 4)),
        "float32",
    ),
    "sparse_down: a not [F]": (lambda: K.sparse_down(torch.ones(7), torch.zeros(8, 4)), r"\[F\]"),
    "sparse_down: bias length": (
        lambda: K.sparse_down(torch.ones(8), torch.zeros(8, 4), torch.zeros(5)),
        "bias has 5 entries, needs 4",
    ),
    "read_rows: a not [F]": (lambda: K.read_rows(torch.ones(7), torch.zeros(8, 4)), r"\[F\]"),
    "read_rows: float64": (
        lambda: K.read_rows(torch.ones(8), torch.zeros(8, 4, dtype=torch.float64)),
        "float32",
    ),
    "read_rows: threads": (
        lambda: K.read_rows(torch.ones(8), torch.zeros(8, 4), 0),
        "threads must be >= 1",
    ),
    "sparse_down_batch: bias length": (
        lambda: K.sparse_down_batch(torch.ones(2, 8), torch.zeros(8, 4), torch.zeros(3)),
        "bias has 3 entries",
    ),
    "sparse_down_batch: batch of 9": (
        lambda: K.sparse_down_batch(torch.zeros(9, 16), torch.zeros(16, 16)),
        "1..8",
    ),
    "block_sparse_down: bias length": (
        lambda: K.block_sparse_down(torch.ones(8), _packed(), torch.zeros(3)),
        "bias has 3 entries",
    ),
    "block_sparse_down: vals not [nnzb, 16]": (
        _raw_block(vals=torch.zeros(4, 8)),
        r"vals must be \[nnzb, 16\]",
    ),
    "block_sparse_down: row_ptr not ending at nnzb": (
        _raw_block(row_ptr=torch.zeros(9, dtype=torch.int64)),
        "end at nnzb",
    ),
    "block_sparse_down: row_ptr of the wrong length": (
        _raw_block(row_ptr=torch.zeros(3, dtype=torch.int64)),
        "F \\+ 1 entries",
    ),
    "BlockSparse: block column out of range": (
        lambda: dataclasses.replace(_packed(), block_col=_packed().block_col + 2),
        "outside",
    ),
    "BlockSparse: decreasing row_ptr": (
        lambda: dataclasses.replace(
            _packed(), row_ptr=torch.tensor([0, 2, 1, 4, 6, 8, 10, 12, 16])
        ),
        "must not decrease|does not match",
    ),
    "BlockSparse: a mask that disagrees with its row": (
        lambda: dataclasses.replace(_packed(), masks=torch.zeros(8, dtype=torch.int64)),
        "does not match",
    ),
    "up_indexed: bias length": (
        lambda: K.up_indexed(
            torch.zeros(16), torch.zeros(8, 16), torch.zeros(3), torch.tensor([1])
        ),
        "bias has 3 entries, needs 8",
    ),
    "up_indexed: index out of range": (
        lambda: K.up_indexed(torch.zeros(16), torch.zeros(8, 16), None, torch.tensor([8])),
        "out of range",
    ),
    "decode engine: a layer tensor of the wrong shape": (
        _engine_with(layer_change=("qkv_w", torch.zeros(5, 5))),
        "qkv_w has shape",
    ),
    "decode engine: a layer lacking a tensor": (
        _engine_with(layer_change=("down_t", None)),
        "lacks tensor 'down_t'",
    ),
    "decode engine: a layer with an unknown tensor": (
        _engine_with(layer_change=("gate_w", torch.zeros(4))),
        "unknown tensor 'gate_w'",
    ),
    "decode engine: n_head not dividing D": (_engine_with(n_head=5), "must divide"),
    "decode engine: an unknown path": (_engine_with(path=9), "unknown path"),
    "decode engine: an empty prompt": (
        lambda: _engine_with()().generate([], 3),
        "non-empty prompt",
    ),
    "decode engine: an unknown ISA code": (_engine_with(isa=9), "unknown kernel ISA code 9"),
    "block_sparse_down: an unknown ISA code": (_raw_block(isa=-1), "unknown kernel ISA code"),
    "up_screen: an unknown ISA code": (
        lambda: K.extension().up_screen(
            torch.zeros(16),
            *dataclasses.astuple(K.UpScreen.from_weight(torch.ones(4, 16))),
            torch.empty(0),
            0.0,
            3,
        ),
        "unknown kernel ISA code 3",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_at_each_entry_point_is_a_clear_error(case):
    call, message = BAD_INPUTS[case]
    with pytest.raises(RuntimeError, match=message):
        call()


def test_an_unknown_or_unrunnable_isa_is_a_clear_error(monkeypatch):
    a, wt = torch.ones(8), torch.zeros(8, 4)
    with pytest.raises(K.KernelIsaError, match="'neon' is not a kernel ISA"):
        K.sparse_down(a, wt, isa="neon")
    monkeypatch.setenv("ACTSPARSE_ISA", "avx9")
    with pytest.raises(K.KernelIsaError, match="ACTSPARSE_ISA='avx9'"):
        K.sparse_down(a, wt)
    monkeypatch.setenv("ACTSPARSE_ISA", "portable")
    assert K.isa_name() == "portable"  # the override picks the path of a call without isa
    lacking = [isa for isa in K.ISAS if isa not in K.supported_isas()]
    if not lacking:
        pytest.skip("this CPU runs every kernel path: none to refuse")
    with pytest.raises(K.KernelIsaError, match=f"the {lacking[0]} kernels cannot run"):
        K.sparse_down(a, wt, isa=lacking[0])
    with pytest.raises(RuntimeError, match="cannot run on this CPU"):  # and in C++ too
        K.extension().sparse_down(a, wt, torch.empty(0), 1, K.ISAS[lacking[0]], 0)


def test_the_cpu_model_names_family_and_model_where_the_name_is_generic():
    """Two VMs both called "AMD EPYC" (a Zen 4, family 25, and a Zen 5, family 26) must not
    share a cpu_model in the timed tables; without the numbers the name alone stays."""
    zen5 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\n"
    zen5 += "model name\t: AMD EPYC\nflags\t\t: fpu\n\nprocessor\t: 1\ncpu family\t: 99\n"
    assert K.cpu_model_of(zen5) == "AMD EPYC (family 26, model 2)"
    assert K.cpu_model_of("model name\t: Apple M2\n") == "Apple M2"
    assert K.cpu_model() == K.cpu_model_of(Path("/proc/cpuinfo").read_text())
