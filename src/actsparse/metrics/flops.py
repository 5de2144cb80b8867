"""FLOPs per byte (one multiply-add = 2 FLOPs), dense and under sparsity.

Two honest accountings of the FFN (DESIGN.md):
- `ideal`, as the seed counts: weight and activation sparsity multiply over the whole FFN.
  For the up projection that needs a perfect predictor of which neurons will be active.
- `exact`: what a kernel without a predictor can skip. The up projection must be computed
  to learn which neurons are zero, so it pays only weight sparsity; the down projection
  pays both.
Attention is counted at the mean context of a full window, (T + 1) / 2 positions.
"""

from __future__ import annotations

from dataclasses import dataclass

from actsparse.core.model import ModelConfig

ACCOUNTINGS = ("ideal", "exact")


@dataclass(frozen=True)
class Flops:
    attention: float  # QKV, attention mixing and output projection, all layers
    ffn_up: float
    ffn_down: float
    head: float  # final projection to 256 logits

    @property
    def ffn(self) -> float:
        return self.ffn_up + self.ffn_down

    @property
    def total(self) -> float:
        return self.attention + self.ffn + self.head


def dense_flops(cfg: ModelConfig) -> Flops:
    d, f, n = cfg.n_embd, cfg.ffn_width, cfg.n_layer
    mean_ctx = (cfg.block_size + 1) / 2
    attention = n * (2 * d * 3 * d + 2 * d * d + 4 * d * mean_ctx)
    return Flops(attention, n * 2 * d * f, n * 2 * f * d, 2 * d * cfg.vocab_size)


def sparse_flops(
    cfg: ModelConfig, act_sparsity: float, weight_sparsity: float, accounting: str
) -> Flops:
    """FLOPs per byte with the FFN at the given activation and weight sparsity."""
    if accounting not in ACCOUNTINGS:
        raise ValueError(f"unknown accounting {accounting!r}; known: {ACCOUNTINGS}")
    dense = dense_flops(cfg)
    w_density, a_density = 1.0 - weight_sparsity, 1.0 - act_sparsity
    up = dense.ffn_up * w_density * (a_density if accounting == "ideal" else 1.0)
    down = dense.ffn_down * w_density * a_density
    return Flops(dense.attention, up, down, dense.head)


def flops_rows(cfg: ModelConfig, points: list[tuple[str, float, float]]) -> list[dict]:
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


def input_sparse_flops(cfg: ModelConfig, s_qkv: float, s_up: float, s_down: float) -> float:
    """FLOPs per byte when each projection skips the columns of its zero inputs (RSB Table 1:
    relufication stage 2 makes the inputs of QKV and the up projection sparse too). Exact
    skipping, no predictor: a zero input's column is never needed. The attention output
    projection, the attention mixing and the head stay dense."""
    d, n = cfg.n_embd, cfg.n_layer
    dense = dense_flops(cfg)
    qkv = n * 2 * d * 3 * d
    rest_of_attention = dense.attention - qkv
    return (
        qkv * (1 - s_qkv)
        + rest_of_attention
        + dense.ffn_up * (1 - s_up)
        + dense.ffn_down * (1 - s_down)
        + dense.head
    )
