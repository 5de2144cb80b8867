"""llama.cpp beside our engine: built once from its PyPI sdist, cached, and timed on the same
model, prompt, number of new tokens and threads.

llama.cpp is what a user would run instead of us, so the decode stage times it too. It is
an optional dependency of that stage only: `llama-cpp-python` (pinned by sha256) is built
from source into `<cache>/llama-cpp-python-<version>/<isa>/` the first time `ensure` is
called (`make llamacpp`, ~15 min on one core), never installed into the environment. Its
default build (GGML_NATIVE) uses every instruction the CPU lists, and on our Intel Xeons
that includes AMX, which the VM does not let a process run: SIGILL on the first token. So
the build names its ISA explicitly (AVX2 or AVX-512, AMX off) and is keyed by it.

The models it runs are GGUF files written here from the same weights our engine reads:
the shipped Q4_1 file as it is, and F32 and Q8_0 copies (gguf's reader dequantises every
tensor, its writer writes them back, Q8_0 quantised by gguf's own quantiser). A relufied
model cannot be given to it: llama.cpp's `llama` architecture hard-codes a SiLU gate
(src/models/llama.cpp: LLM_FFN_SILU), and only ModernBERT reads an activation from the
GGUF metadata, so its rows say `not run` with that reason.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from actsparse.core.corpus import default_cache_dir
from actsparse.core.registry import Artifact, fetch_archive

LLAMA_CPP = Artifact(
    "llama-cpp-python",
    "0.3.36",
    "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e",
    kind="sdist",
)
# llama_cpp imports diskcache at load; pure Python, put beside it in the same directory
DISKCACHE = "diskcache==5.6.3"
RELU_GATE_REASON = (
    "llama.cpp's llama architecture hard-codes a SiLU gate (LLM_FFN_SILU); no GGUF key "
    "sets its activation"
)


class LlamaCppUnavailable(RuntimeError):
    """llama.cpp is not built here (or could not be loaded)."""


# ggml's GGML_AVX512 compiles for these (its cmake adds -mavx512{f,cd,vl,dq,bw})
AVX512_FLAGS = {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"}
AVX2_FLAGS = {"avx", "avx2", "fma", "f16c"}


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def build_isa(flags: set[str] | None = None) -> str:
    """The instruction set the cached build targets, from the CPU's flags (AMX is never
    used, listed or not): avx512, avx2, or generic (no x86 SIMD options; any other CPU)."""
    flags = cpu_flags() if flags is None else flags
    if AVX512_FLAGS <= flags:
        return "avx512"
    return "avx2" if AVX2_FLAGS <= flags else "generic"


def cmake_args(isa: str) -> list[str]:
    simd = {
        "avx512": ["AVX", "AVX2", "FMA", "F16C", "AVX512"],
        "avx2": ["AVX", "AVX2", "FMA", "F16C"],
    }
    on = simd.get(isa, [])
    off = ["AMX_TILE", "AMX_INT8", "AMX_BF16"] + [
        f for f in ("AVX", "AVX2", "FMA", "F16C", "AVX512") if f not in on
    ]
    return [
        "-DGGML_NATIVE=OFF",
        *(f"-DGGML_{f}=ON" for f in on),
        *(f"-DGGML_{f}=OFF" for f in off),
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_BUILD_TESTS=OFF",
    ]


def build_dir(cache: Path | None = None) -> Path:
    root = cache or default_cache_dir()
    return root / f"{LLAMA_CPP.package}-{LLAMA_CPP.version}" / build_isa()


def load() -> ModuleType:
    """The cached build's `llama_cpp` module, or LlamaCppUnavailable saying how to build it."""
    target = build_dir()
    if not (target / "BUILT").exists():
        raise LlamaCppUnavailable(
            f"llama.cpp is not built in {target}: run `make llamacpp` (builds "
            f"{LLAMA_CPP.requirement} from source once, ~15 min on one core)"
        )
    if str(target) not in sys.path:
        sys.path.insert(0, str(target))
    try:
        import llama_cpp
    except (ImportError, OSError) as e:
        raise LlamaCppUnavailable(f"the llama.cpp build in {target} does not load: {e}") from e
    return llama_cpp


def ensure(cache: Path | None = None, log: Path | None = None) -> Path:
    """Build llama.cpp into the cache unless it is there (one build at a time: an OS file
    lock, released if the builder dies; a build only counts once `BUILT` is written)."""
    target = build_dir(cache)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "BUILT").exists():
            return target
        sdist = fetch_archive(LLAMA_CPP, cache or default_cache_dir())
        tmp = target.with_name(target.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        args = " ".join(cmake_args(build_isa()))
        env = {
            **os.environ,
            "CMAKE_ARGS": args,
            "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 1),
        }
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check"]
        cmd += ["--target", str(tmp), str(sdist), DISKCACHE]
        print(f"building llama.cpp ({args}): {' '.join(cmd)}", file=sys.stderr)
        with open(log or os.devnull, "w") as out:
            proc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise LlamaCppUnavailable(
                f"building {LLAMA_CPP.requirement} failed (pip exit {proc.returncode}); "
                f"see {log or 'the output above'}"
            )
        (tmp / "BUILT").write_text(args + "\n")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    return target


# ----------------------------------------------------------------------------- GGUF copies


def convert_gguf(src: Path, out: Path, fmt: str) -> Path:
    """A copy of a Llama GGUF with every tensor dequantised and written back as F32, or as
    Q8_0 (2-D tensors whose rows are whole 32-blocks; 1-D ones stay F32, as llama.cpp's own
    converter does). Metadata is copied, the file type set to match."""
    import gguf

    if fmt not in ("F32", "Q8_0"):
        raise ValueError(f"convert_gguf writes F32 or Q8_0, not {fmt!r}")
    reader = gguf.GGUFReader(str(src))
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    tmp = out.with_name(out.name + ".partial")
    writer = gguf.GGUFWriter(str(tmp), arch)
    file_type = gguf.LlamaFileType.ALL_F32 if fmt == "F32" else gguf.LlamaFileType.MOSTLY_Q8_0
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        if field.name == gguf.Keys.General.FILE_TYPE:
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)
    writer.add_file_type(file_type)
    for t in reader.tensors:
        a = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        if fmt == "Q8_0" and a.ndim == 2 and a.shape[-1] % 32 == 0:
            q = gguf.quants.quantize(a, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(t.name, q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(t.name, a)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.rename(out)
    return out


def gguf_type(path: Path) -> str:
    """A GGUF's weight format, by its 2-D tensors' commonest type (Q4_1 for SmolLM2's file)."""
    from collections import Counter

    import gguf

    reader = gguf.GGUFReader(str(path))
    types = Counter(t.tensor_type.name for t in reader.tensors if len(t.shape) == 2)
    return types.most_common(1)[0][0] if types else "F32"


# ----------------------------------------------------------------------------- timing


@dataclass
class LlamaCppRun:
    tokens: list[int]
    tokens_per_s: float


class LlamaCppModel:
    """A GGUF model in llama.cpp, fed token ids (ours, so the prompt is the same tokens)."""

    def __init__(self, gguf_path: Path, threads: int, n_ctx: int = 512) -> None:
        llama_cpp = load()
        self.llm = llama_cpp.Llama(
            model_path=str(gguf_path),
            n_ctx=n_ctx,
            n_batch=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            logits_all=False,
            verbose=False,
        )

    def generate(self, prompt: list[int], n_new: int) -> LlamaCppRun:
        """Greedy (argmax of the logits) continuation; the prompt is evaluated untimed."""
        llm, n_vocab = self.llm, self.llm.n_vocab()
        llm.reset()
        llm.eval(prompt)
        out: list[int] = []
        t0 = time.perf_counter()
        for _ in range(n_new):
            # the last token's logits, read in place (llama_cpp keeps none without logits_all)
            logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,))
            tok = int(np.argmax(logits))
            out.append(tok)
            llm.eval([tok])
        return LlamaCppRun(out, n_new / (time.perf_counter() - t0))
