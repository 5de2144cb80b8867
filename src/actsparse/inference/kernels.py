"""Sparse FFN kernels (C++: AVX-512, AVX2 + FMA and portable paths), compiled once and cached.

The extension is built with torch.utils.cpp_extension the first time it is used, in
`<cache>/torch_extensions/<source digest>/` from a copy of the sources there, so an edited
kernel rebuilds, an unchanged one loads in milliseconds, and checkouts share a build.
Every kernel takes `isa`, the code path to run: None runs
`default_isa()` (ACTSPARSE_ISA if set, else the best this CPU has), so one machine can
test and time every path it has; a path the CPU lacks is an error, never an illegal
instruction. Weights are prepared once into the layouts the kernels read:
W_down transposed to [F, D] (one contiguous row per neuron), and for 1x16-block-pruned
weights a per-neuron list of nonzero blocks.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import torch

from actsparse.core.corpus import default_cache_dir

CSRC = Path(__file__).with_name("csrc")
# Two translation units: extension.cpp includes the torch-facing files (sparse_ffn,
# decode_engine, llama_engine, up_screen) so torch's headers are compiled once.
SOURCES = [CSRC / "extension.cpp", CSRC / "sparse_ffn_avx2.cpp"]
ISAS = {"portable": 0, "avx2": 1, "avx512": 2}  # the C++ side's actsparse::Isa codes
BLOCK = 16
DOWN_STRATEGIES = {"auto": 0, "tiles": 1, "rows": 2}
BLOCK_STRATEGIES = {"auto": 0, "group": 1, "rows": 2, "interleave": 3}


class KernelBuildError(RuntimeError):
    """The C++ kernels could not be compiled or loaded."""


@cache
def extension() -> ModuleType:
    """Compile (first call) or load the cached extension."""
    from torch.utils import cpp_extension

    compiler = os.environ.get("CXX", "c++")
    if shutil.which(compiler) is None:
        raise KernelBuildError(
            f"the sparse kernels need a C++ compiler and '{compiler}' is not on PATH "
            f"(Debian: apt-get install g++, or set CXX)"
        )
    build = build_dir()
    build.mkdir(parents=True, exist_ok=True)
    with pinned_ninja(), build_lock(build):
        try:
            cpp_extension.verify_ninja_availability()
        except RuntimeError as e:
            raise KernelBuildError(f"the sparse kernels need ninja (pip install ninja): {e}") from e
        src = staged_sources(build)
        try:
            return cpp_extension.load(
                name=f"actsparse_kernels_{build.name}",
                sources=[str(src / f.name) for f in SOURCES],
                extra_cflags=["-O3", "-fopenmp", *build_flags()],
                extra_include_paths=[str(src)],
                extra_ldflags=["-fopenmp", *build_flags()],
                build_directory=str(build),
                verbose=False,
            )
        except (RuntimeError, OSError, ImportError) as e:
            raise KernelBuildError(f"building the sparse kernels in {build} failed: {e}") from e


@contextmanager
def pinned_ninja() -> Iterator[None]:
    """Build with the ninja pip installed with this package, never whichever is first on
    PATH: ninja 1.11 and 1.13 hash a build's commands differently, so one build directory
    that met both recompiled every kernel at each switch (3 min on 2 cores). That is what
    happened in `make test`: pytest found the system's ninja, the smoke workflow's jobs the
    virtual environment's. Without the pip package, PATH decides as before."""
    try:
        import ninja

        bin_dir = str(ninja.BIN_DIR)
    except (ImportError, AttributeError):
        yield
        return
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = bin_dir + os.pathsep + old
    try:
        yield
    finally:
        os.environ["PATH"] = old


SANITIZE_FLAGS = [
    "-O1",  # after -O3: the sanitized build compiles in a third of the time
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",  # a UB report fails the run, not just prints
    "-fno-omit-frame-pointer",
    "-g",
]


def build_flags() -> list[str]:
    """Extra compiler flags: ACTSPARSE_SANITIZE=1 builds with AddressSanitizer and
    UndefinedBehaviorSanitizer (`make sanitize`, which preloads the ASan runtime into
    Python); ACTSPARSE_NO_SIMD=1 builds the portable path alone, as on a CPU that is not
    x86 (how the non-x86 build is tested here)."""
    flags = []
    if os.environ.get("ACTSPARSE_SANITIZE") == "1":
        flags += SANITIZE_FLAGS
    if os.environ.get("ACTSPARSE_NO_SIMD") == "1":
        flags.append("-DACTSPARSE_NO_SIMD")
    return flags


def build_dir() -> Path:
    """Where the extension is built: keyed by the sources' names and bytes and the extra
    flags, not by where the checkout is, so every checkout with the same kernels shares one
    build (the test suite's workflow copies and a user's second clone load it instead of
    compiling for a minute)."""
    h = hashlib.sha256(" ".join(build_flags()).encode())
    for f in csrc_files():
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return default_cache_dir() / "torch_extensions" / h.hexdigest()[:12]


def csrc_files() -> list[Path]:
    return sorted(f for f in CSRC.iterdir() if f.is_file())


def staged_sources(build: Path) -> Path:
    """The sources copied into the build directory, and compiled from there: ninja records
    absolute paths, so compiling a checkout's own files would tie the build to that
    checkout (and two checkouts sharing it would rebuild each other's objects on every
    switch). A file already there with the same bytes is left alone, its time stamp with
    it, so ninja sees nothing to do. Called under the build lock."""
    src = build / "src"
    src.mkdir(exist_ok=True)
    for f in csrc_files():
        dst = src / f.name
        data = f.read_bytes()
        if not dst.exists() or dst.read_bytes() != data:
            tmp = dst.with_suffix(dst.suffix + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(dst)
    return src


@contextmanager
def build_lock(build: Path) -> Iterator[None]:
    """Hold the build directory against other builds, with a lock that cannot go stale.

    torch.utils.cpp_extension guards a build with a `lock` file that it deletes when done;
    a build killed mid-compile (Ctrl-C, a SLURM time limit) leaves it, and every later
    build then waits on it for ever, silently. We hold an OS file lock instead, which the
    kernel releases when its holder dies: while we hold it no other build of ours is in
    cpp_extension, so a `lock` file found then is stale and is removed, with a warning. A
    second process waits, saying for which PID.
    """
    path = build / "actsparse.lock"
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            print(
                f"actsparse: waiting for the kernel build by PID {holder} ({build})",
                file=sys.stderr,
                flush=True,
            )
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        stale = build / "lock"
        if stale.exists():
            print(
                f"actsparse: removing a stale kernel build lock {stale} (a build was killed "
                f"before it finished); rebuilding",
                file=sys.stderr,
                flush=True,
            )
            stale.unlink(missing_ok=True)
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)


def unavailable() -> str | None:
    """Why the kernels cannot run here (no compiler, a failed build), or None. The timed
    stages then write an empty table with this reason, so the ledger says "not run"
    instead of stopping."""
    try:
        extension()
    except KernelBuildError as e:
        return f"the C++ kernels could not be built: {e}"
    return None


class KernelIsaError(ValueError):
    """A kernel ISA that is unknown, or that this CPU (or build) cannot run."""


@cache
def supported_isas() -> tuple[str, ...]:
    """The kernel paths this CPU and build run, slowest first."""
    ext = extension()
    return tuple(name for name, code in ISAS.items() if ext.isa_supported(code))


def has_avx512vnni() -> bool:
    """Whether the up screen's VNNI path runs on this CPU (else its avx512 runs AVX2)."""
    return bool(extension().has_avx512vnni())


def default_isa() -> str:
    """ACTSPARSE_ISA (avx512 | avx2 | portable) if set, else the best this CPU has."""
    return os.environ.get("ACTSPARSE_ISA") or supported_isas()[-1]


def isa_name(isa: str | None = None) -> str:
    """The path a kernel call with this `isa` runs, checked: a clear error for a name we do
    not know or a path this CPU lacks."""
    name = isa or default_isa()
    if name not in ISAS:
        source = "ACTSPARSE_ISA" if isa is None else "isa"
        raise KernelIsaError(f"{source}={name!r} is not a kernel ISA; use one of {sorted(ISAS)}")
    if name not in supported_isas():
        raise KernelIsaError(
            f"the {name} kernels cannot run on this CPU ({cpu_model()}); it runs "
            f"{', '.join(supported_isas())}"
        )
    return name


def isa_code(isa: str | None = None) -> int:
    return ISAS[isa_name(isa)]


def row_prefetch() -> bool:
    """Whether the AVX-512 row-streaming kernels prefetch the rows ahead into L2: on for
    AMD, off for Intel, where it measured slower (ACTSPARSE_ROW_PREFETCH=0|1 overrides)."""
    return bool(extension().row_prefetch())


@cache
def cpu_model() -> str:
    """The CPU's model name and, where the kernel reports them, its family and model
    numbers (timings differ across our machines' CPU families, and a VM may name a Zen 4
    and a Zen 5 alike, "AMD EPYC": family 25 and 26 tell them apart)."""
    try:
        return cpu_model_of(Path("/proc/cpuinfo").read_text())
    except OSError:
        return platform.processor() or platform.machine() or "unknown"


def cpu_model_of(cpuinfo: str) -> str:
    """cpu_model from the text of /proc/cpuinfo (its first processor's fields)."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            if fields:
                break  # the end of the first processor's block
            continue
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name") or platform.machine() or "unknown"
    if "cpu family" in fields and "model" in fields:
        return f"{name} (family {fields['cpu family']}, model {fields['model']})"
    return name


_NO_BIAS = torch.empty(0)  # one shared empty tensor: a new one per call costs ~1 us


def _bias(b: torch.Tensor | None) -> torch.Tensor:
    return b.contiguous() if b is not None else _NO_BIAS


def transpose_down(w_down: torch.Tensor) -> torch.Tensor:
    """nn.Linear's c_proj.weight [D, F] -> the kernels' [F, D], one row per neuron."""
    return w_down.detach().t().contiguous().float()


def sparse_down(
    a: torch.Tensor,
    wt: torch.Tensor,
    bias: torch.Tensor | None = None,
    threads: int = 1,
    isa: str | None = None,
    strategy: str = "auto",
) -> torch.Tensor:
    """y = wt.T @ a + bias for a mostly-zero a [F]; wt from `transpose_down`.

    strategy: "tiles" keeps 128 output columns in registers and passes over the active rows
    once per tile; "rows" streams the active rows whole, 16 per pass over y held in L1, with
    the rows 16 further on prefetched into L2; "auto" is rows, which the kernel_benchmark
    stage measured as fastest or level at both shapes and every sparsity (it times both).
    """
    code = DOWN_STRATEGIES[strategy]
    return extension().sparse_down(a.contiguous(), wt, _bias(bias), threads, isa_code(isa), code)


def read_rows(a: torch.Tensor, wt: torch.Tensor, threads: int = 1, isa: str | None = None) -> float:
    """The sum of the rows of wt where a is nonzero, read as sparse_down's row streaming
    reads them but with nothing multiplied or written: timed beside sparse_down, the
    memory ceiling of any row-skipping kernel on this CPU (kernel_benchmark's
    read_ceiling_down row)."""
    return extension().read_rows(a.contiguous(), wt, threads, isa_code(isa))


def sparse_down_batch(
    A: torch.Tensor,
    wt: torch.Tensor,
    bias: torch.Tensor | None = None,
    threads: int = 1,
    isa: str | None = None,
) -> torch.Tensor:
    """Y = A @ wt + bias for A [B <= 8, F]: one pass over the union of active neurons."""
    return extension().sparse_down_batch(A.contiguous(), wt, _bias(bias), threads, isa_code(isa))


def up_indexed(
    x: torch.Tensor,
    w_up: torch.Tensor,
    bias: torch.Tensor | None,
    idx: torch.Tensor,
    relu: bool = True,
    threads: int = 1,
    isa: str | None = None,
) -> torch.Tensor:
    """h[i] = act(w_up[i] . x + b[i]) for i in idx, 0 elsewhere (w_up is c_fc.weight [F, D])."""
    return extension().up_indexed(
        x.contiguous(),
        w_up,
        _bias(bias),
        idx.to(torch.int64).contiguous(),
        relu,
        threads,
        isa_code(isa),
    )


@dataclass(frozen=True)
class BlockSparse:
    """Wt [F, D] pruned in 1x16 blocks along D, stored per neuron row as nonzero blocks."""

    row_ptr: torch.Tensor  # [F + 1] int64
    block_col: torch.Tensor  # [nnzb] int32: block index along D
    values: torch.Tensor  # [nnzb, 16] float32, zero past D
    d: int
    # [F] int64, bit c set where the row keeps block c (D <= 1024; empty otherwise): lets
    # the kernel sum a group of rows per pass over y, branch-free
    masks: torch.Tensor = torch.empty(0, dtype=torch.int64)

    def __post_init__(self) -> None:
        """Every row checked once, here: the kernel itself checks only what is O(1)."""
        if self.d > 0:  # d = 0: the decode engine's placeholder for paths without blocks
            n_rows = self.row_ptr.numel() - 1
            extension().check_block_sparse(
                self.row_ptr, self.block_col, self.values, self.masks, n_rows, self.d
            )

    @property
    def density(self) -> float:
        n_rows = self.row_ptr.numel() - 1
        return self.block_col.numel() / (n_rows * -(-self.d // BLOCK))

    @classmethod
    def from_dense(cls, wt: torch.Tensor) -> BlockSparse:
        """Pack every 1x16 block of wt that has a nonzero entry."""
        f, d = wt.shape
        n_blocks = -(-d // BLOCK)
        padded = torch.zeros(f, n_blocks * BLOCK, dtype=torch.float32)
        padded[:, :d] = wt
        blocks = padded.view(f, n_blocks, BLOCK)
        keep = (blocks != 0).any(dim=-1)  # [F, n_blocks]
        row_ptr = torch.zeros(f + 1, dtype=torch.int64)
        row_ptr[1:] = keep.sum(dim=1).cumsum(0)
        rows, cols = keep.nonzero(as_tuple=True)
        masks = torch.empty(0, dtype=torch.int64)
        if n_blocks <= 64:  # bit c = 2**c, summed per row; bit 63 wraps to the sign bit
            bits = torch.ones(n_blocks, dtype=torch.int64) << torch.arange(n_blocks)
            masks = (keep.to(torch.int64) * bits).sum(dim=1).contiguous()
        return cls(
            row_ptr,
            cols.to(torch.int32).contiguous(),
            blocks[rows, cols].contiguous(),
            d,
            masks,
        )


def block_sparse_down(
    a: torch.Tensor,
    w: BlockSparse,
    bias: torch.Tensor | None = None,
    threads: int = 1,
    isa: str | None = None,
    strategy: str = "auto",
) -> torch.Tensor:
    """y = Wt.T @ a + bias touching only active neurons' nonzero 1x16 blocks.

    strategy: "rows" adds one active row at a time, each kept block into its columns of
    y, found from its column index; "interleave" streams 16 active rows side by side,
    block j of each before block j + 1, the columns read from the row masks; "group" sums
    8 rows per pass over y, every block column at once, a masked load of zeros where a row
    keeps no block. The last two need the masks (D <= 1024) and are rows without them.
    "auto" is interleave, which the kernel_benchmark stage measured fastest (it times all).
    """
    return extension().block_sparse_down(
        a.contiguous(),
        w.row_ptr,
        w.block_col,
        w.values,
        w.masks,
        w.d,
        _bias(bias),
        threads,
        isa_code(isa),
        BLOCK_STRATEGIES[strategy],
    )


@dataclass(frozen=True)
class UpScreen:
    """An int8 copy of W_up [F, D] (a scale per row) and the per-row factors of the
    screen's error bound.

    The screen (csrc/up_screen.cpp) reads it to find the neurons of a ReLU-type FFN whose
    pre-activation may exceed the activation's threshold, at a quarter of the bytes of the
    fp32 up projection; every neuron it leaves out is certainly zero, so an engine computes
    only the kept rows (exactly, in fp32) and still matches the dense path bit for bit.
    """

    q: torch.Tensor  # [F, D] int8: round(W[o] / scale[o]), in [-127, 127]
    qsum: torch.Tensor  # [F] int32: sum of q[o] (the kernel feeds x as unsigned p + 128)
    # [3, F] float32: scale = max|W[o]| / 127; c1 = gamma |W[o]| + |W[o] - scale q[o]| and
    # c2 = |scale q[o]| (2-norms, gamma = D u / (1 - D u)), both rounded up
    factors: torch.Tensor

    @classmethod
    def from_weight(cls, w_up: torch.Tensor) -> UpScreen:
        w = w_up.detach().float().contiguous()
        peak = w.abs().amax(dim=1)
        scale = torch.where(peak > 0, peak / 127, torch.ones_like(peak))
        q = torch.round(w / scale[:, None]).clamp(-127, 127)
        w64, deq = w.double(), q.double() * scale.double()[:, None]  # what the kernel means
        u = 2.0**-24
        gamma = w.shape[1] * u / (1 - w.shape[1] * u)
        c1 = gamma * w64.norm(dim=1) + (w64 - deq).norm(dim=1)
        c2 = deq.norm(dim=1)
        return cls(
            q.to(torch.int8).contiguous(),
            q.sum(dim=1).to(torch.int32).contiguous(),
            torch.stack([scale, _round_up(c1), _round_up(c2)]).contiguous(),
        )


def _round_up(v: torch.Tensor) -> torch.Tensor:
    """float64 -> the float32 at or above it: a bound must not shrink in the cast."""
    f = v.float()
    return torch.where(f.double() < v, torch.nextafter(f, torch.tensor(float("inf"))), f)


def up_screen(
    x: torch.Tensor,
    screen: UpScreen,
    bias: torch.Tensor | None = None,
    thresh: float = 0.0,
    isa: str | None = None,
) -> torch.Tensor:
    """The neurons (int32, ascending) whose W_up[o] . x + b[o] may exceed thresh."""
    return extension().up_screen(
        x.float().contiguous(),
        screen.q,
        screen.qsum,
        screen.factors,
        _bias(bias),
        thresh,
        isa_code(isa),
    )
