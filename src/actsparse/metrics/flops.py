"""FLOPs per byte (one multiply-add = 2 FLOPs), dense and under sparsity.

Two honest accountings of the FFN (DESIGN.md):
- `ideal`, as the seed counts: weight and activation sparsity multiply over the whole FFN.
  For the up projection that needs a perfect predictor of which neurons will be active.
- `exact`: what a kernel without a predictor can skip. The up projection must be computed
  to learn which neurons are zero, so it pays only weight sparsity; the down projection
  pays both.
In a gated FFN (SwiGLU: down(act(gate(x)) * up(x))) the gate plays the up projection's
part: `exact` computes it densely, then the up rows and down columns of the neurons whose
gate output is not zero (known before either is computed), so up and down both skip.
Attention is counted at the mean context of a full window, (T + 1) / 2 positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actsparse.core.model import ModelConfig

ACCOUNTINGS = ("ideal", "exact")


@dataclass(frozen=True)
class Shape:
    """What the count needs of a model: the byte model's config or a pretrained one's."""

    d_model: int
    d_ffn: int
    n_layer: int
    kv_dim: int  # keys' (and values') width: d_model, or fewer with grouped-query heads
    context: int
    vocab: int
    gated: bool  # a gate projection beside up (SwiGLU)

    @classmethod
    def of(cls, cfg: ModelConfig | Shape) -> Shape:
        if isinstance(cfg, Shape):
            return cfg
        d = cfg.n_embd
        return cls(d, cfg.ffn_width, cfg.n_layer, d, cfg.block_size, cfg.vocab_size, False)

    @classmethod
    def of_hf(cls, config: Any, context: int, gated: bool) -> Shape:
        """A transformers config (Llama or GPT-2 names), at the stages' window."""
        d = getattr(config, "hidden_size", None) or config.n_embd
        heads = getattr(config, "num_attention_heads", None) or config.n_head
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        n_layer = getattr(config, "num_hidden_layers", None) or config.n_layer
        d_ffn = getattr(config, "intermediate_size", None) or config.n_inner or 4 * d
        return cls(d, d_ffn, n_layer, d * kv_heads // heads, context, config.vocab_size, gated)


@dataclass(frozen=True)
class Flops:
    attention: float  # QKV, attention mixing and output projection, all layers
    ffn_up: float
    ffn_down: float
    head: float  # final projection to the vocabulary's logits
    ffn_gate: float = 0.0  # a gated FFN's gate projection

    @property
    def ffn(self) -> float:
        return self.ffn_gate + self.ffn_up + self.ffn_down

    @property
    def total(self) -> float:
        return self.attention + self.ffn + self.head


def dense_flops(cfg: ModelConfig | Shape) -> Flops:
    s = Shape.of(cfg)
    d, f, n = s.d_model, s.d_ffn, s.n_layer
    mean_ctx = (s.context + 1) / 2
    attention = n * (2 * d * (d + 2 * s.kv_dim) + 2 * d * d + 4 * d * mean_ctx)
    gate = n * 2 * d * f if s.gated else 0.0
    return Flops(attention, n * 2 * d * f, n * 2 * f * d, 2 * d * s.vocab, gate)


def sparse_flops(
    cfg: ModelConfig | Shape, act_sparsity: float, weight_sparsity: float, accounting: str
) -> Flops:
    """FLOPs per token with the FFN at the given activation and weight sparsity (a gated
    FFN's act_sparsity: the zeros of its gate output, which zero the down input)."""
    if accounting not in ACCOUNTINGS:
        raise ValueError(f"unknown accounting {accounting!r}; known: {ACCOUNTINGS}")
    dense = dense_flops(cfg)
    w_density, a_density = 1.0 - weight_sparsity, 1.0 - act_sparsity
    ideal = accounting == "ideal"
    if Shape.of(cfg).gated:  # the gate is what must be computed to know; up then skips
        gate = dense.ffn_gate * w_density * (a_density if ideal else 1.0)
        up = dense.ffn_up * w_density * a_density
    else:
        gate, up = 0.0, dense.ffn_up * w_density * (a_density if ideal else 1.0)
    down = dense.ffn_down * w_density * a_density
    return Flops(dense.attention, up, down, dense.head, gate)


def flops_rows(cfg: ModelConfig | Shape, points: list[tuple[str, float, float]]) -> list[dict]:
    """The flops table: per (variant, act_sparsity, weight_sparsity) and accounting."""
    dense = dense_flops(cfg)
    rows = []
    for variant, act, weight in points:
        for accounting in ACCOUNTINGS:
            f = sparse_flops(cfg, act, weight, accounting)
            rows.append(
                {
                    "variant": variant,
                    "accounting": accounting,
                    "act_sparsity": act,
                    "weight_sparsity": weight,
                    "attention_flops": f.attention,
                    "ffn_gate_flops": f.ffn_gate,
                    "ffn_up_flops": f.ffn_up,
                    "ffn_down_flops": f.ffn_down,
                    "head_flops": f.head,
                    "ffn_flops": f.ffn,
                    "total_flops": f.total,
                    "ffn_frac_of_dense": f.ffn / dense.ffn,
                    "ffn_speedup": dense.ffn / f.ffn if f.ffn > 0 else float("inf"),
                    "total_frac_of_dense": f.total / dense.total,
                }
            )
    return rows


def input_sparse_flops(cfg: ModelConfig | Shape, s_qkv: float, s_up: float, s_down: float) -> float:
    """FLOPs per token when each projection skips the columns of its zero inputs (RSB Table
    1: relufication stage 2 makes the inputs of QKV and the up projection sparse too). Exact
    skipping, no predictor: a zero input's column is never needed. A gated FFN's gate reads
    the up projection's input, so it skips with it. The attention output projection, the
    attention mixing and the head stay dense."""
    s = Shape.of(cfg)
    dense = dense_flops(s)
    qkv = s.n_layer * 2 * s.d_model * (s.d_model + 2 * s.kv_dim)
    rest_of_attention = dense.attention - qkv
    return (
        qkv * (1 - s_qkv)
        + rest_of_attention
        + (dense.ffn_gate + dense.ffn_up) * (1 - s_up)
        + dense.ffn_down * (1 - s_down)
        + dense.head
    )
