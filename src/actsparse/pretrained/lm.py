"""A pretrained causal LM, loaded through transformers, with what the stages need of it.

No architecture is re-implemented here: transformers runs the model; `PretrainedLM` only
knows where things sit in its blocks (core.anatomy) and so can, in place, swap the FFN
activation (the gate's in a gated FFN), put a ReLU after the norms (relufication stage 2),
hold per-weight masks (core.masks) and read capture points, the same operations the byte
model offers. Supported families: Llama (SwiGLU, RMSNorm, RoPE, GQA) and GPT-2 (GELU MLP,
LayerNorm); any other is an error naming it, before any weight is read.

A model saved by `save` is a Hugging Face directory plus `actsparse.json` (the activation
and stage-2 state, which transformers' config cannot express for shifted ReLU or FATReLU)
and, when pruned, `masks.pt`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from actsparse.core import anatomy as A
from actsparse.core.masks import MaskedWeights
from actsparse.core.model import Activation
from actsparse.pretrained.source import ModelFiles, ModelSourceError

META = "actsparse.json"


class UnsupportedArchitecture(ModelSourceError):
    """A model family whose blocks we do not know."""


class PretrainedLM(MaskedWeights):
    def __init__(self, hf: nn.Module, tokenizer: Any, anatomy: A.Anatomy, origin: str) -> None:
        super().__init__()
        self.hf = hf
        self.tokenizer = tokenizer
        self.anatomy = anatomy
        self.origin = origin
        self.masks: dict[str, torch.Tensor] = {}
        cfg = hf.config
        self.activation = getattr(cfg, "hidden_act", None) or cfg.activation_function
        self.act_shift, self.act_beta = 0.0, 1.0
        self.norm_relu = False
        self._norm_hooks: list[Any] = []
        self.up_relu = False
        self._up_hooks: list[Any] = []
        cfg_positions = getattr(cfg, "max_position_embeddings", None) or cfg.n_positions
        self.positions = int(cfg_positions)
        # the training and evaluation window: the stages set it from their config
        self.context = self.positions

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits [B, T, vocab] for token ids [B, T]."""
        return self.hf(input_ids=ids, use_cache=False).logits

    @property
    def blocks(self) -> list[nn.Module]:
        return A.blocks(self.hf, self.anatomy)

    def set_activation(self, kind: str, shift: float = 0.0, beta: float = 1.0) -> None:
        """Swap the FFN nonlinearity in place: the gate's activation in a gated FFN."""
        for block in self.blocks:
            A.set_module(block, self.anatomy.act, Activation(kind, shift, beta))
        self.activation, self.act_shift, self.act_beta = kind, shift, beta

    def set_norm_relu(self, on: bool = True) -> None:
        """Stage-2 relufication in place: a ReLU after the norms feeding QKV and the FFN
        (forward hooks that replace the norms' outputs, so parameter names and a saved
        checkpoint stay transformers' own)."""
        paths = (self.anatomy.attn_norm, self.anatomy.ffn_norm)
        self._norm_hooks = self._relu_after(self._norm_hooks, paths if on else ())
        self.norm_relu = on

    def set_up_relu(self, on: bool = True) -> None:
        """dReLU (TurboSparse) in place: a ReLU on the up projection's output too, so a
        neuron is zero where either its gate or its up output is (forward hooks, as for
        stage 2). Only a gated FFN has an up projection beside its gate."""
        if on and not self.anatomy.gated:
            raise ValueError(
                f"dReLU needs a gated FFN (gate and up projections); {self.anatomy.family} "
                "has one activation on its up projection"
            )
        self._up_hooks = self._relu_after(self._up_hooks, (self.anatomy.up,) if on else ())
        self.up_relu = on

    def _relu_after(self, old: list[Any], paths: Sequence[str]) -> list[Any]:
        """Remove the `old` hooks; put a ReLU on the output of each block's modules at
        `paths` (forward hooks: parameter names and a saved checkpoint stay transformers')."""
        for h in old:
            h.remove()
        return [
            A.module_at(block, path).register_forward_hook(lambda m, a, out: F.relu(out))
            for block in self.blocks
            for path in paths
        ]

    def capture(self, points=("ffn_post",), detach: bool = True):  # noqa: ANN001, ANN201
        """core.anatomy.capture on this model."""
        return A.capture(self.hf, self.anatomy, points, detach)

    def state(self) -> dict[str, Any]:
        return {
            "family": self.anatomy.family,
            "activation": self.activation,
            "act_shift": self.act_shift,
            "act_beta": self.act_beta,
            "norm_relu": self.norm_relu,
            "up_relu": self.up_relu,
            "origin": self.origin,
        }

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        self.hf.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        if self.masks:
            torch.save({n: m.cpu() for n, m in self.masks.items()}, directory / "masks.pt")
        (directory / META).write_text(json.dumps(self.state(), indent=1))


def family_of(model_type: str) -> A.Anatomy:
    if model_type not in A.FAMILIES:
        raise UnsupportedArchitecture(
            f"model architecture {model_type!r} is not supported; supported: "
            f"{sorted(A.FAMILIES)} (their blocks are named in core.anatomy)"
        )
    return A.FAMILIES[model_type]


def load(files: ModelFiles, dtype: torch.dtype = torch.float32) -> PretrainedLM:
    """The model and its tokenizer (a GGUF's weights dequantised to `dtype`), in eval mode,
    with the activation, stage-2 and mask state of a directory `save` wrote."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    root = files.path.parent if files.kind == "gguf" else files.path
    kw = {"gguf_file": files.path.name} if files.kind == "gguf" else {}
    config = AutoConfig.from_pretrained(root, **kw)
    anatomy = family_of(config.model_type)  # before reading any weight
    hf = AutoModelForCausalLM.from_pretrained(root, dtype=dtype, **kw).eval()
    if files.kind == "gguf":
        # transformers dequantises a GGUF's weights on load but keeps it marked quantized,
        # which forbids save_pretrained; from here on it is a plain `dtype` model.
        hf.hf_quantizer = None
        if hasattr(hf.config, "quantization_config"):
            del hf.config.quantization_config
    tokenizer = AutoTokenizer.from_pretrained(root, **kw)
    lm = PretrainedLM(hf, tokenizer, anatomy, files.origin)
    meta = root / META
    if files.kind == "hf_dir" and meta.exists():
        state = json.loads(meta.read_text())
        lm.origin = state["origin"]
        if state["activation"] != lm.activation:
            lm.set_activation(state["activation"], state["act_shift"], state["act_beta"])
        lm.set_norm_relu(state["norm_relu"])
        lm.set_up_relu(state.get("up_relu", False))  # directories saved before dReLU lack it
        if (root / "masks.pt").exists():
            lm.set_masks(torch.load(root / "masks.pt"))
    return lm
