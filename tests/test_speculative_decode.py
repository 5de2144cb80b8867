"""Measured speculative decoding: the n-gram draft, and greedy draft-and-verify giving the
target's own autoregressive bytes."""

import numpy as np
import pytest
import torch

from actsparse.core.model import ByteGPT
from actsparse.core.train import TrainConfig, train
from actsparse.inference.decode import CppDecodeEngine
from actsparse.inference.speculative_decoding import NgramDraft, measured_rows, speculative_generate
from tests.conftest import QUIET, tiny_config

TEXT = b"the quick brown fox jumps over the lazy dog. "


def as_bytes(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype=np.uint8)


def test_ngram_draft_continues_a_text_it_has_seen():
    draft = NgramDraft.fit(as_bytes(TEXT * 20), order=4)
    assert bytes(draft.propose(b"the quick", 10)) == b" brown fox"
    # an unseen context backs off to shorter ones, down to the most frequent byte
    assert draft.next_byte(b"\x00\x01\x02") == ord(" ")
    assert len(draft.propose(b"", 3)) == 3  # no context at all still drafts


def test_ngram_draft_rejects_bad_input():
    with pytest.raises(ValueError, match="order"):
        NgramDraft.fit(as_bytes(TEXT), order=0)
    with pytest.raises(ValueError, match="order"):
        NgramDraft.fit(as_bytes(TEXT), order=8)
    with pytest.raises(ValueError, match="cannot fit"):
        NgramDraft.fit(as_bytes(b"ab"), order=3)


def test_ngram_counts_pick_the_most_frequent_next_byte():
    draft = NgramDraft.fit(as_bytes(b"ab" * 5 + b"ac" * 9), order=2)
    assert draft.next_byte(b"a") == ord("c")


@pytest.fixture(scope="module")
def relu_model():
    rng = np.random.default_rng(0)
    text = np.frombuffer(TEXT * 400, dtype=np.uint8)
    data = np.where(rng.random(len(text)) < 0.02, rng.integers(0, 256, len(text)), text)
    torch.manual_seed(0)
    model = ByteGPT(tiny_config(activation="relu", block_size=64))
    cfg = TrainConfig(
        steps=60, batch_size=8, lr=3e-3, warmup_steps=5, eval_every=60, eval_windows=4
    )
    train(model, data.astype(np.uint8), data.astype(np.uint8), cfg, QUIET)
    return model.eval()


@pytest.mark.parametrize("path", ["dense", "sparse", "block_sparse"])
@pytest.mark.parametrize("gamma", [1, 3, 9])
def test_speculative_output_is_the_greedy_autoregressive_output(relu_model, path, gamma):
    draft = NgramDraft.fit(as_bytes(TEXT * 20), order=5)
    engine = CppDecodeEngine(relu_model, path)
    greedy, _ = engine.generate(b"the quick", 40)
    run = speculative_generate(engine, draft, b"the quick", 40, gamma)
    assert run.out == greedy
    assert run.accepted <= run.drafted <= gamma * run.rounds
    assert run.rounds * 1 + run.accepted == 40  # each round: accepted bytes + one of its own


def test_a_draft_that_is_never_right_costs_a_round_per_byte(relu_model):
    draft = NgramDraft.fit(as_bytes(b"\xff" * 50), order=2)  # always proposes 0xff
    engine = CppDecodeEngine(relu_model, "sparse")
    greedy, _ = engine.generate(b"the quick", 20)
    assert 0xFF not in greedy
    run = speculative_generate(engine, draft, b"the quick", 20, 4)
    assert run.out == greedy
    assert (run.rounds, run.accepted, run.alpha) == (20, 0, 0.0)


def test_speculative_generate_rejects_bad_input(relu_model):
    draft = NgramDraft.fit(as_bytes(TEXT), order=3)
    engine = CppDecodeEngine(relu_model, "dense")
    with pytest.raises(ValueError, match="gamma"):
        speculative_generate(engine, draft, b"the", 10, 0)
    with pytest.raises(ValueError, match="context"):
        speculative_generate(engine, draft, b"the", 62, 4)
    with pytest.raises(ValueError, match="context"):
        speculative_generate(engine, draft, b"", 10, 4)


def test_measured_rows_pair_each_kind_with_its_prediction(relu_model):
    draft = NgramDraft.fit(as_bytes(TEXT * 20), order=5)
    rows = measured_rows(relu_model, draft, b"the quick", 30, [1, 4], 1, down_share=0.3)
    assert {(r["kind"], r["gamma"]) for r in rows} == {
        (k, g) for k in ("standard", "aggregated") for g in (1, 4)
    }
    for r in rows:
        assert r["greedy_identical"]
        assert 0.0 <= r["alpha"] <= 1.0 and r["c"] > 0
        if r["kind"] == "standard":
            assert r["s_agg"] == 0.0 and r["speedup_vs_standard"] == 1.0
            assert r["predicted_speedup_vs_standard"] == 1.0
        else:
            assert 0.0 < r["s_agg"] < 1.0
    assert sum(r["optimal"] for r in rows) == 2
