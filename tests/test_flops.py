import pytest

from actsparse.core.model import ModelConfig
from actsparse.metrics.flops import (
    Shape,
    dense_flops,
    flops_rows,
    input_sparse_flops,
    sparse_flops,
)

CFG = ModelConfig(n_layer=12, n_head=12, n_embd=768, block_size=512)


def test_dense_ffn_is_four_d_squared_macs_per_layer():
    f = dense_flops(CFG)
    assert f.ffn_up == f.ffn_down == 12 * 2 * 768 * 3072


def test_seed_combined_point_leaves_six_percent_of_ffn_flops_ideal():
    # seed 000: 88.1% zeros with a 50% prune -> "roughly six percent", "about seventeen times"
    ideal = sparse_flops(CFG, 0.881, 0.5, "ideal")
    frac = ideal.ffn / dense_flops(CFG).ffn
    assert frac == pytest.approx(0.0595, abs=1e-4)
    assert 1 / frac == pytest.approx(16.8, abs=0.1)


def test_exact_accounting_pays_the_whole_up_projection():
    exact = sparse_flops(CFG, 0.9, 0.0, "exact")
    dense = dense_flops(CFG)
    assert exact.ffn_up == dense.ffn_up
    assert exact.ffn_down == pytest.approx(0.1 * dense.ffn_down)
    assert exact.ffn / dense.ffn == pytest.approx(0.55)


def test_unknown_accounting_is_rejected():
    with pytest.raises(ValueError, match="accounting"):
        sparse_flops(CFG, 0.5, 0.0, "optimistic")


def test_flops_rows_cover_both_accountings():
    rows = flops_rows(CFG, [("dense", 0.0, 0.0), ("x", 0.5, 0.5)])
    assert [(r["variant"], r["accounting"]) for r in rows] == [
        ("dense", "ideal"),
        ("dense", "exact"),
        ("x", "ideal"),
        ("x", "exact"),
    ]
    assert rows[0]["ffn_speedup"] == 1.0 and rows[2]["ffn_speedup"] == pytest.approx(4.0)


# SmolLM2-135M: 30 layers, hidden 576, FFN 1536 (SwiGLU), 9 query / 3 key-value heads
SMOL = Shape(576, 1536, 30, 192, 256, 49152, gated=True)


def test_a_gated_ffn_by_hand():
    dense = dense_flops(SMOL)
    proj = 30 * 2 * 576 * 1536
    assert dense.ffn_gate == dense.ffn_up == dense.ffn_down == proj
    qkv_o = 2 * 576 * (576 + 2 * 192) + 2 * 576 * 576
    assert dense.attention == pytest.approx(30 * (qkv_o + 4 * 576 * 128.5))
    assert dense.head == 2 * 576 * 49152
    # exact: the gate computed densely, then up and down only for its nonzero outputs
    exact = sparse_flops(SMOL, 0.9, 0.0, "exact")
    assert exact.ffn_gate == proj and exact.ffn_up == pytest.approx(0.1 * proj)
    assert exact.ffn / dense.ffn == pytest.approx((1 + 0.2) / 3)
    assert sparse_flops(SMOL, 0.9, 0.0, "ideal").ffn / dense.ffn == pytest.approx(0.1)


def test_shapes_from_transformers_configs():
    from transformers import GPT2Config, LlamaConfig

    llama = LlamaConfig(
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        vocab_size=49152,
    )
    assert Shape.of_hf(llama, 256, gated=True) == SMOL
    gpt2 = GPT2Config(n_embd=64, n_layer=2, n_head=4, vocab_size=100)
    assert Shape.of_hf(gpt2, 32, gated=False) == Shape(64, 256, 2, 64, 32, 100, False)
    assert Shape.of(CFG) == Shape(768, 3072, 12, 768, 512, 256, False)


def test_input_sparse_flops_skip_each_projections_zero_input_columns():
    """RSB Table 1's count by hand: QKV (with grouped-query keys and values), gate and up
    (they read the same input) and down each skip their zero inputs' columns."""
    proj = 30 * 2 * 576 * 1536
    qkv = 30 * 2 * 576 * (576 + 2 * 192)
    dense = dense_flops(SMOL)
    assert input_sparse_flops(SMOL, 0.0, 0.0, 0.0) == pytest.approx(dense.total)
    saved = 0.5 * qkv + 0.25 * 2 * proj + 0.9 * proj
    assert input_sparse_flops(SMOL, 0.5, 0.25, 0.9) == pytest.approx(dense.total - saved)
    byte = dense_flops(CFG)  # no gate: the byte model's QKV is 3 d x d
    saved = 0.5 * 12 * 2 * 768 * 3 * 768 + 0.25 * byte.ffn_up + 0.9 * byte.ffn_down
    assert input_sparse_flops(CFG, 0.5, 0.25, 0.9) == pytest.approx(byte.total - saved)
