"""The decode engine: KV-cache logits equal the full forward pass, and the sparse FFN
paths generate exactly the bytes the dense path generates."""

import functools

import numpy as np
import pytest
import torch

from actsparse.core.model import ByteGPT
from actsparse.core.train import TrainConfig, train
from actsparse.inference import kernels as K
from actsparse.inference.decode import CppDecodeEngine
from actsparse.methods.pruning import prune_ffn
from tests.conftest import QUIET, tiny_config
from tests.decode_oracle import DecodeEngine


@pytest.fixture(scope="module")
def relu_model():
    rng = np.random.default_rng(0)
    text = np.frombuffer(b"the quick brown fox jumps over the lazy dog. " * 400, dtype=np.uint8)
    data = np.where(rng.random(len(text)) < 0.02, rng.integers(0, 256, len(text)), text)
    torch.manual_seed(0)
    model = ByteGPT(tiny_config(activation="relu", block_size=64))
    model.set_masks(prune_ffn(model, 0.5, "block16"))
    cfg = TrainConfig(
        steps=60, batch_size=8, lr=3e-3, warmup_steps=5, eval_every=60, eval_windows=4
    )
    train(model, data.astype(np.uint8), data.astype(np.uint8), cfg, QUIET)
    return model.eval()


def assert_steps_match_forward(engine, model: ByteGPT, text: bytes) -> None:
    """Each cached step's logits equal the full forward pass at that position."""
    x = torch.tensor(list(text))
    with torch.no_grad():
        full = model(x[None])[0]
    for t, b in enumerate(x.tolist()):
        torch.testing.assert_close(engine.step(b), full[t], atol=2e-4, rtol=1e-4)


ENGINES = {
    "python": DecodeEngine,
    **{f"cpp_{isa}": functools.partial(CppDecodeEngine, isa=isa) for isa in K.ISAS},
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("path", ["dense", "sparse", "block_sparse", "screened"])
def test_cached_logits_equal_the_full_forward_pass(relu_model, engine, path):
    isa = engine.removeprefix("cpp_")
    if engine != "python" and isa not in K.supported_isas():
        pytest.skip(f"this CPU ({K.cpu_model()}) cannot run the {isa} path")
    assert_steps_match_forward(ENGINES[engine](relu_model, path), relu_model, b"the quick brown")


def test_sparse_paths_generate_exactly_the_dense_bytes(relu_model):
    outs = {
        p: DecodeEngine(relu_model, p).generate(b"the quick ", 40)[0]
        for p in ("dense", "sparse", "block_sparse")
    }
    assert outs["dense"] == outs["sparse"] == outs["block_sparse"]
    assert len(outs["dense"]) == 40


def test_engine_reports_the_sparsity_it_saw(relu_model):
    engine = DecodeEngine(relu_model, "sparse")
    engine.generate(b"the ", 10)
    assert 0.2 < engine.act_sparsity < 1.0


def test_context_overflow_and_unknown_path_are_rejected(relu_model):
    with pytest.raises(ValueError, match="exceed the context"):
        DecodeEngine(relu_model).generate(b"x" * 60, 10)
    with pytest.raises(ValueError, match="unknown decode path"):
        DecodeEngine(relu_model, "magic")


@pytest.mark.parametrize("activation", ["gelu", "xsigmoid", "shifted_relu", "fatrelu"])
def test_cpp_engine_supports_every_activation(activation):
    torch.manual_seed(0)
    model = ByteGPT(tiny_config(activation=activation, act_beta=1.7, act_shift=0.05)).eval()
    assert_steps_match_forward(CppDecodeEngine(model, "sparse"), model, b"abcdef")


def test_cpp_sparse_paths_generate_exactly_the_dense_bytes(relu_model):
    outs = {
        p: CppDecodeEngine(relu_model, p).generate(b"the quick ", 40)[0]
        for p in ("dense", "sparse", "block_sparse", "screened")
    }
    assert outs["dense"] == outs["sparse"] == outs["block_sparse"] == outs["screened"]
    assert outs["dense"] == DecodeEngine(relu_model, "dense").generate(b"the quick ", 40)[0]


@pytest.mark.parametrize("isa", K.ISAS)
@pytest.mark.parametrize("path", ["dense", "sparse", "block_sparse", "screened"])
def test_a_multi_byte_pass_gives_each_byte_the_logits_of_its_own_step(relu_model, path, isa):
    if isa not in K.supported_isas():
        pytest.skip(f"this CPU ({K.cpu_model()}) cannot run the {isa} path")
    # Bit for bit: a verification pass must not change what the model predicts.
    engine = CppDecodeEngine(relu_model, path, isa=isa)
    text = b"the quick brown fox jumps"
    engine.forward(text[:5])
    together = engine.forward(text[5:16])  # 11 bytes: more than one batch of 8
    engine.reset()
    alone = torch.stack([engine.step(b) for b in text[:16]])[5:]
    assert torch.equal(together, alone)
    assert engine.pos == 16


def test_rollback_forgets_the_rejected_bytes(relu_model):
    engine = CppDecodeEngine(relu_model, "sparse")
    engine.forward(b"the quick")
    engine.forward(b"XYZ")  # a rejected draft
    engine.rollback(9)
    after = engine.forward(b" brown")
    engine.reset()
    clean = engine.forward(b"the quick brown")[9:]
    assert torch.equal(after, clean)
    with pytest.raises(RuntimeError, match="rollback"):
        engine.rollback(16)
    with pytest.raises(RuntimeError, match="context full"):
        engine.forward(b"x" * 64)


@pytest.mark.parametrize("isa", K.ISAS)
@pytest.mark.parametrize(
    "activation",
    [
        dict(activation="relu"),
        dict(activation="shifted_relu", act_shift=0.05),
        dict(activation="fatrelu", act_shift=0.05),
    ],
)
def test_screened_path_computes_the_sparse_paths_activations_bit_for_bit(activation, isa):
    if isa not in K.supported_isas():
        pytest.skip(f"this CPU ({K.cpu_model()}) cannot run the {isa} path")
    # The screen only skips neurons it proved zero, so the activations, and with them the
    # logits of every step, are those of the sparse path exactly.
    torch.manual_seed(0)
    model = ByteGPT(tiny_config(**activation)).eval()
    with torch.no_grad():  # push the pre-activations negative: mostly-zero activations
        for block in model.h:
            block.mlp.c_fc.bias -= 0.3
    sparse = CppDecodeEngine(model, "sparse", isa=isa)
    screened = CppDecodeEngine(model, "screened", isa=isa)
    for b in b"the quick brown fox":
        assert torch.equal(sparse.step(b), screened.step(b))
    assert sparse.act_sparsity == screened.act_sparsity > 0.5
    assert 1 - screened.act_sparsity <= screened.screen_kept < 1.0


def test_screened_path_needs_an_activation_with_exact_zeros():
    torch.manual_seed(0)
    for cfg in (tiny_config(), tiny_config(activation="xsigmoid", act_beta=1.7)):
        with pytest.raises(ValueError, match="no exact zeros"):
            CppDecodeEngine(ByteGPT(cfg), "screened")
    relu = ByteGPT(tiny_config(activation="xsigmoid", act_beta=float("inf")))
    assert CppDecodeEngine(relu, "screened").step(97).shape == (256,)


@pytest.mark.parametrize("n_embd", [24, 40])  # not a multiple of the 16-float weight block
@pytest.mark.parametrize("path", ["dense", "sparse", "block_sparse", "screened"])
def test_the_engine_handles_a_width_that_is_not_a_multiple_of_16(n_embd, path):
    """The block path sums whole 16-float blocks: at n_embd 24 or 40 each row is summed in
    a padded scratch (it once wrote past its buffer). Every path matches the forward pass,
    byte by byte and in a multi-byte pass."""
    torch.manual_seed(0)
    model = ByteGPT(tiny_config(activation="relu", n_embd=n_embd, n_head=2)).eval()
    model.set_masks(prune_ffn(model, 0.5, "block16"))
    assert_steps_match_forward(CppDecodeEngine(model, path), model, b"the quick brown")
    engine = CppDecodeEngine(model, path)
    together = engine.forward(b"the quick brown")
    engine.reset()
    assert torch.equal(together, torch.stack([engine.step(b) for b in b"the quick brown"]))
