"""The byte corpus: fetch a pinned source, verify its sha256, split it contiguously.

Every source is pinned by the sha256 of its *decompressed* bytes, so a re-packed
archive on a mirror still verifies while a changed text never does.
"""

from __future__ import annotations

import bz2
import hashlib
import os
import sys
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actsparse.core.checkpoint import atomic_write
from actsparse.core.registry import Artifact, ArtifactError, fetch_archive

# The English Wikipedia XML sample shipped inside the gensim 4.4.0 wheel (same raw
# format as enwik8). Any platform's wheel carries the same file.
# The wheel differs per platform (its sha with it): the member's decompressed bytes carry the pin.
WIKI_SAMPLE_WHEEL = Artifact("gensim", "4.4.0", sha256="")
WIKI_SAMPLE_MEMBER = (
    "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
)
WIKI_SAMPLE_SHA256 = "34c1c63050c87cc8477b9ae36b1cb0edf372612c92938b742e579a7109c20fa4"

ENWIK8_URL = "http://mattmahoney.net/dc/enwik8.zip"
ENWIK8_SHA256 = "2b49720ec4d78c3c9fabaee6e4179a5e997302b3a70029f30f2d582218c024a8"

SPLITS = ("train", "val", "test")


class CorpusError(RuntimeError):
    """The corpus could not be obtained, or is not what its pin says."""


@dataclass(frozen=True)
class Corpus:
    source: str  # wiki-sample | enwik8 | file
    origin: str  # where the bytes came from (package, URL or path)
    sha256: str
    data: bytes


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def default_cache_dir() -> Path:
    """Downloads are shared across runs and clones: $ACTSPARSE_CACHE or ~/.cache/actsparse."""
    env = os.environ.get("ACTSPARSE_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "actsparse"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def verify(data: bytes, expected_sha256: str | None, what: str) -> str:
    """Return the sha256 of data; raise if it does not match the pin."""
    if not data:
        raise CorpusError(f"{what} is empty (0 bytes)")
    actual = sha256_hex(data)
    if expected_sha256 and actual != expected_sha256.lower():
        raise CorpusError(
            f"sha256 mismatch for {what}: expected {expected_sha256}, got {actual} "
            f"({len(data):,} bytes). The source changed or the download is damaged; "
            f"delete it from the cache and retry, or update the pin in the config."
        )
    return actual


def _cached_verified(path: Path, sha: str) -> bytes | None:
    if path.exists():
        data = path.read_bytes()
        if data and sha256_hex(data) == sha:
            return data
    return None


def fetch_wiki_sample(cache_dir: Path) -> Corpus:
    """The 6 MB Wikipedia XML sample from the gensim wheel, read with zipfile + bz2."""
    cached = cache_dir / "wiki-sample.xml"
    data = _cached_verified(cached, WIKI_SAMPLE_SHA256)
    if data is None:
        try:
            wheel = fetch_archive(WIKI_SAMPLE_WHEEL, cache_dir)
        except ArtifactError as e:
            raise CorpusError(f"the wiki sample's wheel: {e}") from e
        try:
            with zipfile.ZipFile(wheel) as zf:
                data = bz2.decompress(zf.read(WIKI_SAMPLE_MEMBER))
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
            raise CorpusError(
                f"cannot read {WIKI_SAMPLE_MEMBER} from {wheel}: {e}; delete the wheel and retry"
            ) from e
        verify(data, WIKI_SAMPLE_SHA256, f"wiki sample from {wheel.name}")
        atomic_write_bytes(cached, data)
    return Corpus("wiki-sample", WIKI_SAMPLE_WHEEL.requirement, WIKI_SAMPLE_SHA256, data)


def fetch_enwik8(cache_dir: Path, url: str = ENWIK8_URL, sha256: str = ENWIK8_SHA256) -> Corpus:
    """The 100 MB enwik8 benchmark, for machines that can reach its URL."""
    cached = cache_dir / "enwik8"
    data = _cached_verified(cached, sha256)
    if data is None:
        zpath = cache_dir / "enwik8.zip"
        if not zpath.exists():
            print(f"downloading {url}", file=sys.stderr)
            try:
                with urllib.request.urlopen(url, timeout=60) as r:
                    atomic_write_bytes(zpath, r.read())
            except OSError as e:
                raise CorpusError(f"cannot download enwik8 from {url}: {e}") from e
        try:
            with zipfile.ZipFile(zpath) as zf:
                data = zf.read("enwik8")
        except (zipfile.BadZipFile, KeyError) as e:
            raise CorpusError(f"{zpath} is not a valid enwik8 zip: {e}; delete it and retry") from e
        verify(data, sha256, f"enwik8 from {url}")
        atomic_write_bytes(cached, data)
    return Corpus("enwik8", url, sha256, data)


def read_file(path: str | Path, sha256: str | None = None) -> Corpus:
    """Any local file; pinned when the config gives a sha256."""
    p = Path(path)
    if not p.is_file():
        raise CorpusError(f"corpus file {p} does not exist or is not a file")
    data = p.read_bytes()
    actual = verify(data, sha256, f"corpus file {p}")
    return Corpus("file", str(p), actual, data)


def load_corpus(data_cfg: dict) -> Corpus:
    """Dispatch on data.source (the config's `data` section)."""
    source = data_cfg["source"]
    cache = Path(data_cfg["cache_dir"]) if data_cfg.get("cache_dir") else default_cache_dir()
    if source == "wiki-sample":
        return fetch_wiki_sample(cache)
    if source == "enwik8":
        e = data_cfg.get("enwik8", {})
        return fetch_enwik8(cache, e.get("url", ENWIK8_URL), e.get("sha256", ENWIK8_SHA256))
    if source == "file":
        f = data_cfg.get("file") or {}
        if not f.get("path"):
            raise CorpusError("data.source is 'file' but data.file.path is not set")
        return read_file(f["path"], f.get("sha256"))
    raise CorpusError(f"unknown data.source {source!r}; expected wiki-sample, enwik8 or file")


def split_corpus(
    data: bytes, fractions: tuple[float, float, float], min_split_bytes: int
) -> dict[str, np.ndarray]:
    """Contiguous train/val/test split; every split must hold at least one context window."""
    if not data:
        raise CorpusError("corpus is empty (0 bytes)")
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) <= 0:
        raise CorpusError(f"split fractions {fractions} must be positive and sum to 1")
    arr = np.frombuffer(data, dtype=np.uint8)
    n = len(arr)
    n_train = int(n * fractions[0])
    n_val = int(n * fractions[1])
    bounds = {
        "train": (0, n_train),
        "val": (n_train, n_train + n_val),
        "test": (n_train + n_val, n),
    }
    splits = {k: arr[a:b] for k, (a, b) in bounds.items()}
    for k, v in splits.items():
        if len(v) < min_split_bytes:
            raise CorpusError(
                f"corpus of {n:,} bytes is too short: the {k} split has {len(v):,} bytes, "
                f"fewer than one context window plus one ({min_split_bytes:,} bytes)"
            )
    return splits


def read_split(path: str | Path) -> np.ndarray:
    """A split written by the corpus rule: raw uint8 bytes."""
    return np.fromfile(path, dtype=np.uint8)


def read_splits(paths: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Every split named in paths (a rule's input: train, val, test). Uses keys() because
    `in` on Snakemake's Namedlist tests values, not names."""
    names = set(paths.keys())
    return {s: read_split(paths[s]) for s in SPLITS if s in names}
