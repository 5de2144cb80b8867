"""Byte-by-byte generation with a KV cache (batch 1), with a dense or a sparse FFN path.

The engine reads the trained model's weights once and runs one byte per step: the new
byte's query against the cached keys and values, then the FFN, one C++ call per byte
(csrc/decode_engine.cpp). Only the FFN differs between paths: `dense` is a plain GEMV,
`sparse` the column-skipping kernel for the down projection, `block_sparse` the 1x16-block
kernel (for block-pruned models).
The up projection is dense in these paths: without a predictor, it has to be computed to
learn which neurons are zero. `screened` (ReLU-type models) learns it at a quarter of the
bytes: an int8 copy of W_up with a rigorous error bound proves most neurons zero
(kernels.UpScreen), only the rest are computed in fp32, then the sparse down projection
runs; no neuron is guessed, so nothing changes the output. Everything else is shared, so
the paths' speeds compare the FFN alone, and their greedy outputs must be identical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from actsparse.core.model import ByteGPT, ModelConfig
from actsparse.inference import kernels as K
from actsparse.methods.pruning import mask_structure

PATHS = ("dense", "sparse", "block_sparse", "screened")
ENGINE_THREADS = 1  # the C++ engine opens no OpenMP region: every path runs on one thread
# Activations that are exactly zero at or below a threshold: what the screen can prove.
SCREENABLE = ("relu", "shifted_relu", "fatrelu")


def screenable(cfg: ModelConfig) -> bool:
    """Whether the model's activation is exactly zero at or below a threshold."""
    return cfg.activation in SCREENABLE or (
        cfg.activation == "xsigmoid" and math.isinf(cfg.act_beta)
    )


def check_path(cfg: ModelConfig, path: str) -> None:
    """A decode path must exist and suit the model's activation."""
    if path not in PATHS:
        raise ValueError(f"unknown decode path {path!r}; known: {PATHS}")
    if path == "screened" and not screenable(cfg):
        raise ValueError(
            f"the screened path proves neurons zero below a ReLU's threshold; activation "
            f"{cfg.activation!r} has no exact zeros to prove (use {SCREENABLE})"
        )


def check_generation(block_size: int, prompt: bytes, n_new: int) -> None:
    """A generation must have a prompt to continue and fit the context it is cached in."""
    if not prompt:
        raise ValueError("an empty prompt leaves no context to continue")
    if len(prompt) + n_new > block_size:
        raise ValueError(
            f"prompt ({len(prompt)}) + new bytes ({n_new}) exceed the context of {block_size}"
        )


@dataclass
class LayerWeights:
    ln1: tuple[torch.Tensor, torch.Tensor | None]
    qkv: tuple[torch.Tensor, torch.Tensor | None]
    proj: tuple[torch.Tensor, torch.Tensor | None]
    ln2: tuple[torch.Tensor, torch.Tensor | None]
    up: tuple[torch.Tensor, torch.Tensor | None]
    down: tuple[torch.Tensor, torch.Tensor | None]
    down_t: torch.Tensor  # [F, D] for the sparse kernel
    down_blocks: K.BlockSparse | None


def weight_and_bias(m: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    b = getattr(m, "bias", None)
    return m.weight.detach().contiguous(), None if b is None else b.detach().contiguous()


def layer_weights(model: ByteGPT, path: str) -> list[LayerWeights]:
    """Every layer's weights in the layouts the engine's paths read."""
    layers = []
    for b in model.h:
        down = weight_and_bias(b.mlp.c_proj)
        down_t = K.transpose_down(down[0])
        layers.append(
            LayerWeights(
                weight_and_bias(b.ln_1.norm),
                weight_and_bias(b.attn.c_attn),
                weight_and_bias(b.attn.c_proj),
                weight_and_bias(b.ln_2.norm),
                weight_and_bias(b.mlp.c_fc),
                down,
                down_t,
                K.BlockSparse.from_dense(down_t) if path == "block_sparse" else None,
            )
        )
    return layers


def decode_paths(model: ByteGPT) -> list[str]:
    """The paths worth timing on a model: dense and sparse always, the block kernel when its
    FFN weights are pruned in 1x16 blocks, the screen when its activation has exact zeros."""
    paths = ["dense", "sparse"]
    paths += ["block_sparse"] if mask_structure(model) == "block16" else []
    return paths + (["screened"] if screenable(model.cfg) else [])


ACT_KINDS = {"gelu": 0, "relu": 1, "shifted_relu": 2, "xsigmoid": 3, "fatrelu": 4}


def _screen_tensors(lw: LayerWeights, screened: bool) -> tuple[torch.Tensor, ...]:
    if not screened:
        return (torch.empty(0),) * 3
    screen = K.UpScreen.from_weight(lw.up[0])
    return screen.q, screen.qsum, screen.factors


def engine_args(model: ByteGPT, path: str, isa: str | None = None) -> tuple:
    """The C++ engine's constructor arguments: per layer a dict of its 20 tensors by name
    (checked there once: every name present, no other, each shape and dtype), then the
    embeddings, final norm, head and the model's settings."""
    check_path(model.cfg, path)
    empty = torch.empty(0)
    layers = []
    for lw in layer_weights(model, path):
        blocks = lw.down_blocks or K.BlockSparse(
            torch.zeros(1, dtype=torch.int64), torch.empty(0, dtype=torch.int32), empty, 0
        )
        pairs = {"ln1": lw.ln1, "qkv": lw.qkv, "proj": lw.proj, "ln2": lw.ln2, "up": lw.up}
        pairs["down"] = lw.down
        named = {
            f"{name}_{part}": t if t is not None else empty
            for name, (w, b) in pairs.items()
            for part, t in (("w", w), ("b", b))
        }
        q, qsum, factors = _screen_tensors(lw, path == "screened")
        layers.append(
            {
                **named,
                "down_t": lw.down_t,
                "row_ptr": blocks.row_ptr,
                "block_col": blocks.block_col,
                "block_vals": blocks.values,
                "block_masks": blocks.masks,
                "up_q": q,
                "up_qsum": qsum,
                "up_factors": factors,
            }
        )
    cfg = model.cfg
    return (
        layers,
        model.wte.weight.detach().contiguous(),
        model.wpe.weight.detach().contiguous(),
        *(t if t is not None else empty for t in weight_and_bias(model.ln_f)),
        model.lm_head.weight.detach().contiguous(),
        cfg.n_head,
        ACT_KINDS[cfg.activation],
        cfg.act_shift,
        cfg.act_beta,
        cfg.norm_relu,
        PATHS.index(path),
        K.isa_code(isa),
    )


class CppDecodeEngine:
    """The decode engine, one C++ call per byte (no per-op Python overhead); the decode
    stages time it. It runs on one thread (ENGINE_THREADS): it opens no parallel region."""

    def __init__(self, model: ByteGPT, path: str = "dense", isa: str | None = None) -> None:
        self.cfg = model.cfg
        self.isa = K.isa_name(isa)  # the kernel path every step runs
        self._engine = K.extension().DecodeEngineCpp(*engine_args(model, path, self.isa))

    def step(self, byte: int) -> torch.Tensor:
        return self._engine.step(byte)

    def forward(self, data: bytes | list[int]) -> torch.Tensor:
        """Feed several bytes in one pass (weights read once); logits [len(data), 256]."""
        return self._engine.forward(list(data))

    def rollback(self, pos: int) -> None:
        """Forget the bytes from position pos on (a rejected draft)."""
        self._engine.rollback(pos)

    @property
    def pos(self) -> int:
        return self._engine.pos()

    @property
    def screen_kept(self) -> float:
        """Fraction of up-projection rows the screened path computed since reset (nan on
        other paths): the neurons the int8 screen could not prove zero."""
        total = self._engine.screen_total()
        return self._engine.screen_kept() / total if total else float("nan")

    @property
    def union_counts(self) -> tuple[int, int]:
        """(active, total) neuron counts of the union of each pass's active sets, summed
        over passes and layers since reset (sparse paths only; a pass is one forward)."""
        return self._engine.union_active(), self._engine.union_total()

    def reset(self) -> None:
        self._engine.reset()

    def generate(self, prompt: bytes, n_new: int) -> tuple[bytes, float]:
        check_generation(self.cfg.block_size, prompt, n_new)
        out, seconds = self._engine.generate(list(prompt), n_new)
        return bytes(out), n_new / seconds

    @property
    def act_sparsity(self) -> float:
        total = self._engine.total()
        return self._engine.zeros() / total if total else float("nan")


def decode_rows(
    name: str,
    model: ByteGPT,
    prompt: bytes,
    n_new: int,
    paths: list[str],
    repeats: int,
) -> list[dict]:
    """Bytes/s of each path (best of `repeats` runs), and whether its greedy output is the
    dense path's, byte for byte. The paths take turns within each repeat, so a drift in
    the machine's speed hits all of them alike."""
    engines = {path: CppDecodeEngine(model, path) for path in paths}
    runs: dict[str, list[tuple[bytes, float]]] = {path: [] for path in paths}
    for _ in range(repeats):
        for path, engine in engines.items():
            runs[path].append(engine.generate(prompt, n_new))
    results = {
        path: (runs[path][0][0], max(r[1] for r in runs[path]), engines[path].act_sparsity)
        for path in paths
    }
    dense_out, dense_speed, _ = results["dense"]
    return [
        {
            "variant": f"{name}:{path}",
            "model": name,
            "path": path,
            "threads": ENGINE_THREADS,
            "n_new": n_new,
            "bytes_per_s": speed,
            "speedup_vs_dense_path": speed / dense_speed,
            "act_sparsity": sparsity,
            "up_rows_computed": engines[path].screen_kept if path == "screened" else 1.0,
            "greedy_identical": out == dense_out,
            "isa": K.isa_name(),
            "cpu_model": K.cpu_model(),
        }
        for path, (out, speed, sparsity) in results.items()
    ]
