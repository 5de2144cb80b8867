import bz2
import zipfile

import numpy as np
import pytest

from actsparse.core import corpus
from actsparse.core.corpus import CorpusError, load_corpus, read_file, sha256_hex, split_corpus


def test_file_source_verifies_its_sha256(tmp_path):
    f = tmp_path / "c.txt"
    f.write_bytes(b"hello world" * 100)
    assert read_file(f, sha256_hex(b"hello world" * 100)).data == b"hello world" * 100
    with pytest.raises(CorpusError, match="sha256 mismatch"):
        read_file(f, "0" * 64)


def test_empty_file_is_rejected(tmp_path):
    f = tmp_path / "empty.txt"
    f.write_bytes(b"")
    with pytest.raises(CorpusError, match="empty"):
        read_file(f)


def test_missing_file_is_rejected(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus({"source": "file", "file": {"path": str(tmp_path / "nope")}})


def test_corpus_shorter_than_one_context_window_is_rejected():
    with pytest.raises(CorpusError, match="too short.*val split"):
        split_corpus(b"x" * 1000, (0.9, 0.05, 0.05), min_split_bytes=257)


def test_split_is_contiguous_90_5_5():
    data = bytes(range(256)) * 40
    s = split_corpus(data, (0.9, 0.05, 0.05), min_split_bytes=65)
    assert [len(s[k]) for k in ("train", "val", "test")] == [9216, 512, 512]
    assert np.concatenate([s["train"], s["val"], s["test"]]).tobytes() == data


def test_split_fractions_must_sum_to_one():
    with pytest.raises(CorpusError, match="sum to 1"):
        split_corpus(b"x" * 10000, (0.5, 0.2, 0.2), min_split_bytes=10)


def fake_wheel(cache, payload: bytes) -> None:
    (cache / "wheels").mkdir(parents=True)
    with zipfile.ZipFile(cache / "wheels" / "gensim-4.4.0-cp311-none-any.whl", "w") as z:
        z.writestr(corpus.WIKI_SAMPLE_MEMBER, bz2.compress(payload))


def test_wiki_sample_that_does_not_match_its_pin_is_rejected(tmp_path):
    fake_wheel(tmp_path, b"<mediawiki>not the pinned sample</mediawiki>")
    with pytest.raises(CorpusError, match="sha256 mismatch"):
        corpus.fetch_wiki_sample(tmp_path)
    assert not (tmp_path / "wiki-sample.xml").exists()  # nothing unverified is cached


def test_wiki_sample_is_read_from_the_wheel_with_zipfile_and_bz2(tmp_path, monkeypatch):
    payload = b"<mediawiki>" + b"a" * 5000 + b"</mediawiki>"
    monkeypatch.setattr(corpus, "WIKI_SAMPLE_SHA256", sha256_hex(payload))
    fake_wheel(tmp_path, payload)
    c = corpus.fetch_wiki_sample(tmp_path)
    assert c.data == payload and c.source == "wiki-sample"
    assert (tmp_path / "wiki-sample.xml").read_bytes() == payload  # cached for the next run


def test_damaged_wheel_gives_a_clear_error(tmp_path):
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "gensim-4.4.0-cp311-none-any.whl").write_bytes(b"not a zip")
    with pytest.raises(CorpusError, match="delete the wheel"):
        corpus.fetch_wiki_sample(tmp_path)
