"""The C++ Llama decode engine against transformers' own forward, on tiny random Llama models
(hidden 32 and 40: a SIMD width and not), every kernel path this CPU has, 1 and 2 threads:
logits within a stated tolerance, every path's logits bit for bit equal (the dense path's
included), greedy outputs identical, and every refused input refused with its reason."""

import pytest
import torch

from actsparse.core import anatomy as A
from actsparse.inference import kernels as K
from actsparse.inference.llama_decode import (
    EngineSettings,
    LlamaEngine,
    UnsupportedModel,
    available_paths,
    layer_tensors,
)
from actsparse.pretrained.lm import PretrainedLM
from actsparse.pretrained.tiny import llama_config

pytestmark = pytest.mark.skipif(bool(K.unavailable()), reason=str(K.unavailable()))

# fp32 logits of the engine against transformers' (summation orders differ): tolerance
# relative to the logits' scale, fixed before the first run.
RTOL = 1e-4


def tiny_llama(hidden: int = 32, seed: int = 0, **cfg) -> PretrainedLM:
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    config = llama_config(97, hidden_size=hidden, intermediate_size=72, **cfg)
    hf = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # weights larger than the init's, so activations are far from 0
        for p in hf.parameters():
            if p.dim() == 2:
                p.mul_(4.0)
    return PretrainedLM(hf, None, A.LLAMA, "test")


def variant(lm: PretrainedLM, name: str) -> PretrainedLM:
    if name == "relu":
        lm.set_activation("relu")
    elif name == "shifted":
        lm.set_activation("shifted_relu", shift=0.05)
    elif name == "fatrelu":
        lm.set_activation("fatrelu", shift=0.05)
    elif name == "stage2":
        lm.set_activation("relu")
        lm.set_norm_relu(True)
    elif name == "drelu":
        lm.set_activation("relu")
        lm.set_up_relu(True)
    return lm


TOKENS = [5, 17, 3, 96, 0, 44, 44, 12, 80, 7, 63, 21]


def reference_logits(lm: PretrainedLM) -> torch.Tensor:
    with torch.no_grad():
        return lm(torch.tensor([TOKENS]))[0]


def engine_logits(engine: LlamaEngine) -> torch.Tensor:
    engine.reset()
    return torch.stack([engine.step(t) for t in TOKENS])


def need(isa: str) -> None:
    if isa not in K.supported_isas():
        pytest.skip(f"this CPU ({K.cpu_model()}) cannot run the {isa} path")


@pytest.mark.parametrize("isa", K.ISAS)
@pytest.mark.parametrize("hidden", [32, 40])
@pytest.mark.parametrize("name", ["silu", "relu", "shifted", "fatrelu", "stage2", "drelu"])
def test_every_path_matches_transformers_logits(name, hidden, isa):
    need(isa)
    lm = variant(tiny_llama(hidden), name)
    ref = reference_logits(lm)
    scale = ref.abs().max().item()
    act = "silu" if name == "silu" else "relu"
    for path in available_paths(act):
        got = engine_logits(LlamaEngine(lm, EngineSettings(path=path, isa=isa)))
        err = (got - ref).abs().max().item()
        assert err <= RTOL * scale, f"{path}: max |engine - transformers| {err} (scale {scale})"


@pytest.mark.parametrize("isa", K.ISAS)
@pytest.mark.parametrize("hidden", [32, 40])
@pytest.mark.parametrize("name", ["relu", "shifted", "fatrelu", "drelu"])
def test_every_path_gives_the_dense_paths_logits_bit_for_bit_on_any_thread_count(name, hidden, isa):
    """Skipping a zero neuron must change no bit: the sparse and screened paths against the
    dense path, which sums the down projection over every neuron in the same order."""
    need(isa)
    lm = variant(tiny_llama(hidden, seed=1), name)
    runs = {
        (path, threads): engine_logits(
            LlamaEngine(lm, EngineSettings(path=path, isa=isa, threads=threads))
        )
        for path in ("dense", "sparse", "screened")
        for threads in (1, 2)
    }
    first = runs[("dense", 1)]
    for key, logits in runs.items():
        assert torch.equal(logits, first), key


@pytest.mark.parametrize("isa", K.ISAS)
def test_greedy_output_is_identical_across_paths_and_counts_rows(isa):
    need(isa)
    lm = variant(tiny_llama(40, seed=2), "relu")
    outs, fractions = {}, {}
    for path in ("dense", "sparse", "screened"):
        engine = LlamaEngine(lm, EngineSettings(path=path, isa=isa))
        outs[path], speed = engine.generate(TOKENS, 30)
        assert speed > 0
        fractions[path] = engine.row_fractions()
        assert engine.counts()["steps"] == 30
    assert outs["sparse"] == outs["dense"] == outs["screened"]
    # transformers' own greedy continuation
    with torch.no_grad():
        ids = torch.tensor([TOKENS])
        for _ in range(30):
            ids = torch.cat([ids, lm(ids)[:, -1:].argmax(-1)], dim=1)
    assert outs["dense"] == ids[0, len(TOKENS) :].tolist()
    dense, sparse, screened = fractions["dense"], fractions["sparse"], fractions["screened"]
    assert dense["gate_rows"] == dense["up_rows"] == dense["down_rows"] == 1.0
    assert 0 < sparse["act_sparsity"] < 1
    assert sparse["gate_rows"] == 1.0
    assert sparse["up_rows"] == pytest.approx(1 - sparse["act_sparsity"])
    # the screen keeps every active neuron, and proves some inactive ones zero
    assert 1 - sparse["act_sparsity"] <= screened["gate_rows"] < 1.0
    assert screened["up_rows"] == sparse["up_rows"]
    assert screened["act_sparsity"] == dense["act_sparsity"] == sparse["act_sparsity"]


def test_refuses_what_it_cannot_run_exactly(tmp_path):
    from actsparse.pretrained import lm as L
    from actsparse.pretrained import source
    from actsparse.pretrained.tiny import write_tiny

    gpt2 = L.load(source.resolve({"kind": "hf_dir", "path": str(write_tiny(tmp_path, "gpt2"))}))
    with pytest.raises(UnsupportedModel, match="Llama family only.*gpt2"):
        LlamaEngine(gpt2)
    lm = tiny_llama()
    with pytest.raises(UnsupportedModel, match="silu gate has none"):
        LlamaEngine(lm, EngineSettings(path="sparse"))
    with pytest.raises(ValueError, match="unknown decode path 'blocks'"):
        LlamaEngine(lm, EngineSettings(path="blocks"))
    lm.set_activation("gelu")
    with pytest.raises(UnsupportedModel, match="gate activations.*'gelu'"):
        LlamaEngine(lm)
    with pytest.raises(UnsupportedModel, match="biases"):
        LlamaEngine(tiny_llama(attention_bias=True))
    with pytest.raises(UnsupportedModel, match="default RoPE only.*'linear'"):
        LlamaEngine(tiny_llama(rope_scaling={"rope_type": "linear", "factor": 2.0}))


def test_bad_generation_and_token_inputs_are_errors():
    engine = LlamaEngine(tiny_llama(), EngineSettings(max_tokens=16))
    with pytest.raises(ValueError, match="empty prompt"):
        engine.generate([], 4)
    with pytest.raises(ValueError, match="exceed the engine's 16 positions"):
        engine.generate(TOKENS, 10)
    with pytest.raises(RuntimeError, match="token 97 out of range"):
        engine.step(97)
    engine.reset()
    for t in range(16):
        engine.step(t)
    with pytest.raises(RuntimeError, match="context full"):
        engine.step(0)


def test_the_cpp_side_checks_every_tensor_by_name():
    lm = variant(tiny_llama(), "relu")
    model = lm.hf.model
    layers = [layer_tensors(b, "screened") for b in model.layers]
    args = lambda ls, threads=1: (  # noqa: E731
        ls,
        model.embed_tokens.weight.detach(),
        model.norm.weight.detach(),
        lm.hf.lm_head.weight.detach(),
        4,
        2,
        10000.0,
        1e-6,
        1,
        0.0,
        False,
        False,
        64,
        2,
        0,
        threads,
    )
    build = K.extension().LlamaEngineCpp
    build(*args(layers))  # as given: accepted
    with pytest.raises(RuntimeError, match="layer 1 lacks tensor 'up_w'"):
        build(*args([layers[0], {k: v for k, v in layers[1].items() if k != "up_w"}]))
    with pytest.raises(RuntimeError, match="unknown tensor 'bias'"):
        build(*args([{**layers[0], "bias": torch.zeros(1)}, layers[1]]))
    with pytest.raises(RuntimeError, match=r"layer 0 down_t has shape \[32, 72\]"):
        build(*args([{**layers[0], "down_t": layers[0]["down_t"].t().contiguous()}, layers[1]]))
    with pytest.raises(RuntimeError, match="gate_q must be contiguous int8"):
        build(*args([{**layers[0], "gate_q": torch.empty(0)}, layers[1]]))
    with pytest.raises(RuntimeError, match="threads must be in"):
        build(*args(layers, threads=0))
