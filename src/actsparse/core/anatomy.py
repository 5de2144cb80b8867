"""Where things sit inside a transformer block, for every model family we read.

The stages ask the same questions of our byte model and of a pretrained LLM: swap the FFN
nonlinearity, read the activations at a named point, put a ReLU after the norms. An
`Anatomy` names, per family, the modules that answer them (the FFN's activation, its gate,
up and down projections, the QKV projections and the two norms), so each operation is
written once, here, whichever model it is.

Capture points (per block):
    ffn_pre   input of the FFN activation (the gate's pre-activation in a gated FFN)
    ffn_post  output of the activation (the gate output; in a plain MLP the down input)
    up_out    output of the up projection (in a plain MLP the same tensor as ffn_pre)
    down_in   input of the down projection: act(gate) * up in a gated FFN; where a ReLU
              gate puts its zeros, so `act_sparsity` is read here
    qkv_in    input of the QKV projection (after the first norm, and its ReLU in stage 2)
    up_in     input of the FFN (after the second norm, and its ReLU in stage 2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

CAPTURE_POINTS = ("ffn_pre", "ffn_post", "up_out", "down_in", "qkv_in", "up_in")


@dataclass(frozen=True)
class Anatomy:
    """Dotted module paths: `blocks` from the model, the rest from a block."""

    family: str
    blocks: str
    act: str
    up: str
    down: str
    qkv: tuple[str, ...]
    attn_norm: str
    ffn_norm: str
    gate: str | None = None  # gated FFNs (SwiGLU): down(act(gate(x)) * up(x))

    @property
    def gated(self) -> bool:
        return self.gate is not None


BYTE = Anatomy("byte", "h", "mlp.act", "mlp.c_fc", "mlp.c_proj", ("attn.c_attn",), "ln_1", "ln_2")
LLAMA = Anatomy(
    "llama",
    "model.layers",
    "mlp.act_fn",
    "mlp.up_proj",
    "mlp.down_proj",
    ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
    "input_layernorm",
    "post_attention_layernorm",
    gate="mlp.gate_proj",
)
GPT2 = Anatomy(
    "gpt2", "transformer.h", "mlp.act", "mlp.c_fc", "mlp.c_proj", ("attn.c_attn",), "ln_1", "ln_2"
)
# transformers' model_type -> anatomy: the families whose blocks we know
FAMILIES = {"llama": LLAMA, "gpt2": GPT2}


def module_at(root: nn.Module, path: str) -> nn.Module:
    for name in path.split("."):
        root = getattr(root, name)
    return root


def set_module(root: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(module_at(root, parent) if parent else root, name, module)


def blocks(model: nn.Module, anatomy: Anatomy) -> list[nn.Module]:
    return list(module_at(model, anatomy.blocks))


@contextmanager
def capture(
    model: nn.Module,
    anatomy: Anatomy,
    points: Sequence[str] = ("ffn_post",),
    detach: bool = True,
) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Collect activations per layer during forward passes inside the `with` block.

    Yields {point: [tensor of layer 0, layer 1, ...]}; each forward pass overwrites the
    lists, so the caller reads them after each pass. detach=False keeps the graph, which
    the L1 activation regulariser needs.
    """
    unknown = set(points) - set(CAPTURE_POINTS)
    if unknown:
        raise ValueError(f"unknown capture points {sorted(unknown)}; known: {CAPTURE_POINTS}")
    layers = blocks(model, anatomy)
    store: dict[str, list[torch.Tensor]] = {p: [None] * len(layers) for p in points}  # type: ignore[misc]
    handles = []

    def keep(point: str, layer: int, t: torch.Tensor) -> None:
        store[point][layer] = t.detach() if detach else t

    # (point, module path, whether the hook reads the module's input or its output)
    where = {
        "ffn_pre": (anatomy.act, "in"),
        "ffn_post": (anatomy.act, "out"),
        "up_out": (anatomy.up, "out"),
        "down_in": (anatomy.down, "in"),
        "qkv_in": (anatomy.attn_norm, "out"),
        "up_in": (anatomy.ffn_norm, "out"),
    }
    for i, block in enumerate(layers):
        for point in points:
            path, side = where[point]
            m = module_at(block, path)
            if side == "in":
                hook = m.register_forward_pre_hook(
                    lambda m, args, i=i, p=point: keep(p, i, args[0])
                )
            else:
                hook = m.register_forward_hook(lambda m, args, out, i=i, p=point: keep(p, i, out))
            handles.append(hook)
    try:
        yield store
    finally:
        for h in handles:
            h.remove()


@contextmanager
def hooked(
    model: nn.Module,
    anatomy: Anatomy,
    path: str,
    hooks: Sequence[Callable],
    pre: bool = False,
) -> Iterator[None]:
    """Inside the block, block i's module at `path` runs hooks[i]: a forward hook that may
    replace the output, or (pre) a forward pre-hook that may replace the input; a capture
    opened inside sees what they return. The hooks are removed on exit."""
    handles = []
    for block, hook in zip(blocks(model, anatomy), hooks, strict=True):
        m = module_at(block, path)
        handles.append(m.register_forward_pre_hook(hook) if pre else m.register_forward_hook(hook))
    try:
        yield
    finally:
        for h in handles:
            h.remove()
