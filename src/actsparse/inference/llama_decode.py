"""Token-by-token generation of a Llama-family model in C++ (batch 1, fp32, KV cache), with a
dense, a sparse and a screened FFN path (csrc/llama_engine.cpp).

The model is loaded through transformers (pretrained.lm); this module only hands its
weights to the engine in the layouts the paths read. Nothing of the architecture is
guessed: a model whose config the engine cannot run exactly (biases, scaled RoPE, a
non-gated FFN, an activation it does not know) is refused with the reason, before any
weight is copied. The sparse path reads the gate whole and then only the up rows and down
columns of neurons whose gate activation is nonzero; the screened path first proves most
gate rows zero from an int8 copy (kernels.UpScreen). Neither predicts, and every path sums
the down projection in the same order (the dense path over every neuron, zeros included),
so all three give the same logits bit for bit, and the same greedy output."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from actsparse.inference import kernels as K

PATHS = ("dense", "sparse", "screened")
GATE_ACTS = {"silu": 0, "relu": 1, "shifted_relu": 2, "fatrelu": 3}


class UnsupportedModel(ValueError):
    """A model the Llama engine cannot run exactly."""


def gate_activation(activation: str, beta: float = 1.0) -> str:
    """The engine's name for a model's gate activation (xsigmoid at beta 1 is SiLU, at
    beta = inf ReLU), or an error naming the ones it knows."""
    if activation == "xsigmoid" and math.isinf(beta):
        return "relu"
    if activation == "xsigmoid" and beta == 1.0:
        return "silu"
    if activation not in GATE_ACTS:
        raise UnsupportedModel(
            f"the Llama engine runs gate activations {sorted(GATE_ACTS)}; the model has "
            f"{activation!r} (beta {beta})"
        )
    return activation


def check_config(cfg) -> None:  # noqa: ANN001 (a transformers LlamaConfig)
    """Refuse what the engine would compute differently from transformers."""
    if cfg.model_type != "llama":
        raise UnsupportedModel(
            f"the C++ decode engine runs the Llama family only; this model is "
            f"{cfg.model_type!r} (the byte model has its own engine, inference.decode)"
        )
    if getattr(cfg, "attention_bias", False) or getattr(cfg, "mlp_bias", False):
        raise UnsupportedModel("the Llama engine has no biases; this model's config sets them")
    rope = getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {}
    if rope.get("rope_type", "default") != "default":
        raise UnsupportedModel(
            f"the Llama engine runs the default RoPE only; this model has {rope['rope_type']!r}"
        )


def rope_theta(cfg) -> float:  # noqa: ANN001
    rope = getattr(cfg, "rope_parameters", None) or {}
    return float(rope.get("rope_theta", getattr(cfg, "rope_theta", 10000.0)))


def available_paths(activation: str) -> list[str]:
    """The paths that can run a gate activation: a SiLU gate has no exact zeros to skip."""
    return ["dense"] if activation == "silu" else list(PATHS)


def paths_for(lm) -> list[str]:  # noqa: ANN001 (a PretrainedLM)
    """The paths a loaded model's gate allows."""
    return available_paths(gate_activation(lm.activation, lm.act_beta))


def _f32(t: torch.Tensor) -> torch.Tensor:
    return t.detach().float().contiguous()


def layer_tensors(block: torch.nn.Module, path: str) -> dict[str, torch.Tensor]:
    """A decoder layer's tensors by the engine's names; each path gets only what it reads
    (every path W_down^T [F, D], summed row by row; screened also the int8 gate)."""
    attn, mlp = block.self_attn, block.mlp
    empty = torch.empty(0)
    named = {
        "attn_norm": _f32(block.input_layernorm.weight),
        "q_w": _f32(attn.q_proj.weight),
        "k_w": _f32(attn.k_proj.weight),
        "v_w": _f32(attn.v_proj.weight),
        "o_w": _f32(attn.o_proj.weight),
        "ffn_norm": _f32(block.post_attention_layernorm.weight),
        "gate_w": _f32(mlp.gate_proj.weight),
        "up_w": _f32(mlp.up_proj.weight),
        "down_t": K.transpose_down(_f32(mlp.down_proj.weight)),
        "gate_q": empty,
        "gate_qsum": empty,
        "gate_factors": empty,
    }
    if path == "screened":
        screen = K.UpScreen.from_weight(named["gate_w"])
        named |= {"gate_q": screen.q, "gate_qsum": screen.qsum, "gate_factors": screen.factors}
    return named


@dataclass(frozen=True)
class EngineSettings:
    path: str = "dense"
    threads: int = 1
    max_tokens: int = 512
    isa: str | None = None


class LlamaEngine:
    """A relufied (or dense) Llama-family PretrainedLM as a C++ decode engine."""

    def __init__(self, lm, settings: EngineSettings = EngineSettings()) -> None:  # noqa: ANN001, B008
        cfg = lm.hf.config
        check_config(cfg)
        act = gate_activation(lm.activation, lm.act_beta)
        if settings.path not in PATHS:
            raise ValueError(f"unknown decode path {settings.path!r}; known: {PATHS}")
        if settings.path not in paths_for(lm):
            raise UnsupportedModel(
                f"the {settings.path} path skips exact zeros; a {act} gate has none "
                "(relufy the model, or run the dense path)"
            )
        self.settings = settings
        self.isa = K.isa_name(settings.isa)
        model = lm.hf.model
        embed = _f32(model.embed_tokens.weight)
        head = _f32(lm.hf.lm_head.weight)  # the same storage when tied: copied once
        self._engine = K.extension().LlamaEngineCpp(
            [layer_tensors(b, settings.path) for b in model.layers],
            embed,
            _f32(model.norm.weight),
            head,
            cfg.num_attention_heads,
            cfg.num_key_value_heads,
            rope_theta(cfg),
            float(cfg.rms_norm_eps),
            GATE_ACTS[act],
            float(lm.act_shift),
            bool(lm.norm_relu),
            bool(getattr(lm, "up_relu", False)),
            settings.max_tokens,
            PATHS.index(settings.path),
            K.isa_code(self.isa),
            settings.threads,
        )

    @property
    def huge_pages(self) -> bool:
        """Whether the OS took the weights' transparent-huge-page advice (madvise)."""
        return self._engine.huge_pages()

    def step(self, token: int) -> torch.Tensor:
        """Logits [vocab] after feeding one token at the next position."""
        return self._engine.step(int(token))

    def reset(self) -> None:
        self._engine.reset()

    def generate(self, prompt: list[int], n_new: int) -> tuple[list[int], float]:
        """Greedy continuation of prompt: (new tokens, their tokens/s; the prompt untimed)."""
        if not prompt:
            raise ValueError("an empty prompt leaves no context to continue")
        if len(prompt) + n_new > self.settings.max_tokens + 1:
            raise ValueError(
                f"prompt ({len(prompt)}) + new tokens ({n_new}) exceed the engine's "
                f"{self.settings.max_tokens} positions"
            )
        out, seconds = self._engine.generate([int(t) for t in prompt], n_new)
        return list(out), n_new / seconds if seconds > 0 else float("inf")

    def counts(self) -> dict[str, int]:
        """Since the last generate: generated tokens and, summed over them and the layers,
        FFN rows read per projection against `ffn_rows` (F per layer and token)."""
        return dict(self._engine.counts())

    def row_fractions(self) -> dict[str, float]:
        c = self.counts()
        total = c["ffn_rows"] or 1
        return {
            "gate_rows": c["gate_rows"] / total,
            "up_rows": c["up_rows"] / total,
            "down_rows": c["down_rows"] / total,
            "act_sparsity": c["zeros"] / total,
        }
