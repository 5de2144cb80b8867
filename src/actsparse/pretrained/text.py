"""The corpus through a tokenizer, and text metrics on one axis with the byte model.

A token model's cross-entropy per token cannot be compared with a byte model's per byte;
bits per byte can: `bpb` = total nats over the predicted tokens / the bytes of text those
tokens cover / ln 2, which for the byte model is ce / ln 2 and for gzip, bzip2 and xz is
their compressed bits over the text's bytes. Windows are fixed, evenly spaced over the
split, as for the byte model.
"""

from __future__ import annotations

import hashlib
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import transformers
from torch.nn import functional as F

from actsparse.core.corpus import default_cache_dir
from actsparse.core.evaluate import window_starts as core_window_starts
from actsparse.metrics.sparsity import exact_zero_fraction
from actsparse.pretrained.lm import PretrainedLM
from actsparse.pretrained.source import ModelSourceError


class TokenizerError(ModelSourceError):
    """The model's tokenizer cannot represent the corpus."""


@dataclass(frozen=True)
class TokenText:
    ids: np.ndarray  # [n] int64 token ids of the whole split
    byte_end: np.ndarray  # [n] the UTF-8 byte offset where each token's text ends


def tokenize(tokenizer, data: bytes) -> TokenText:  # noqa: ANN001
    """A split's bytes as token ids, with where each token ends in the bytes. The text is
    decoded as UTF-8 (a character cut at the split's edge becomes U+FFFD); a tokenizer
    that maps any of it to its unknown token cannot score the corpus, and says so.

    Every pretrained job reads the same splits through the same tokenizer, and a split of
    a few MB takes seconds and GBs of Python objects to tokenize, so the result is kept in
    `$ACTSPARSE_CACHE/tokens/`, keyed by the tokenizer's full definition and the bytes: a
    hit is the same arrays, never a stale copy."""
    path = token_cache_path(tokenizer, data)
    if path is not None and path.exists():
        try:
            with np.load(path) as z:
                return TokenText(z["ids"], z["byte_end"])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)  # a damaged entry is recomputed
    tt = _tokenize(tokenizer, data)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, ids=tt.ids, byte_end=tt.byte_end)
        tmp.replace(path)  # atomic: a job reading it never sees half a file
    return tt


TOKEN_CACHE_FORMAT = b"actsparse tokens v1"


def token_cache_path(tokenizer, data: bytes) -> Path | None:  # noqa: ANN001
    """The cache entry for this tokenizer and text, or None for a tokenizer without a
    serialisable definition (a slow, Python-only tokenizer is not cached)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    h = hashlib.sha256(TOKEN_CACHE_FORMAT)
    for part in (type(tokenizer).__name__, transformers.__version__, backend.to_str()):
        h.update(part.encode() + b"\0")
    h.update(data)
    return default_cache_dir() / "tokens" / f"{h.hexdigest()[:24]}.npz"


def _tokenize(tokenizer, data: bytes) -> TokenText:  # noqa: ANN001
    text = data.decode("utf-8", errors="replace")
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = np.asarray(enc["input_ids"], dtype=np.int64)
    unk = tokenizer.unk_token_id
    if unk is not None and (ids == unk).any():
        where = int(np.argmax(ids == unk))
        char = enc["offset_mapping"][where][0]
        raise TokenizerError(
            f"the tokenizer cannot encode the corpus: {(ids == unk).sum()} unknown tokens, the "
            f"first at character {char} ({text[char : char + 20]!r})"
        )
    ends = np.asarray([e for _, e in enc["offset_mapping"]], dtype=np.int64)
    return TokenText(ids, char_byte_offsets(text)[ends])


def char_byte_offsets(text: str) -> np.ndarray:
    """[len(text) + 1] the UTF-8 byte offset at which each character starts (and the end)."""
    cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    width = 1 + (cp >= 0x80).astype(np.int64) + (cp >= 0x800) + (cp >= 0x10000)
    return np.concatenate([[0], np.cumsum(width)])


def window_starts(n_tokens: int, context: int, n_windows: int) -> np.ndarray:
    """n_windows evenly spaced starts of context + 1 tokens: the byte model's windows
    (core.evaluate), so the training loop's evaluations read the same ones."""
    return core_window_starts(n_tokens, context, n_windows)


def covered_bytes(tt: TokenText, starts: np.ndarray, context: int) -> int:
    """The text bytes the predicted tokens (1 .. context) of the windows at `starts` cover."""
    return int(sum(tt.byte_end[s + context] - tt.byte_end[s] for s in starts))


def bytes_per_token(tt: TokenText, starts: np.ndarray, context: int) -> float:
    """Per predicted token: bpb is ce / this / ln 2."""
    return covered_bytes(tt, starts, context) / (len(starts) * context)


@dataclass
class TokenEval:
    nats: float  # summed over predicted tokens
    tokens: int
    bytes: int  # of text covered by the predicted tokens
    act_sparsity: float  # exact zeros at the down projection's input, all layers
    gate_zeros: float  # exact zeros at the activation's output (the gate output)
    layer_sparsity: list[float]

    @property
    def ce(self) -> float:
        return self.nats / self.tokens

    @property
    def bpb(self) -> float:
        return self.nats / self.bytes / math.log(2)


@torch.no_grad()
def evaluate(
    lm: PretrainedLM, tt: TokenText, starts: np.ndarray, context: int, batch: int = 4
) -> TokenEval:
    """ce per token, bpb and activation sparsity over the fixed windows."""
    lm.eval()
    nats, n_tok, n_bytes = 0.0, 0, 0
    zeros = np.zeros(len(lm.blocks))
    gate = 0.0
    count = 0
    for b in range(0, len(starts), batch):
        s = starts[b : b + batch]
        x = torch.from_numpy(np.stack([tt.ids[i : i + context + 1] for i in s]))
        with lm.capture(("down_in", "ffn_post")) as cap:
            logits = lm(x[:, :-1])
            layer = [exact_zero_fraction(t) for t in cap["down_in"]]
            g = [exact_zero_fraction(t) for t in cap["ffn_post"]]
        loss = F.cross_entropy(logits.flatten(0, 1).float(), x[:, 1:].flatten(), reduction="sum")
        nats += float(loss)
        n_tok += x[:, 1:].numel()
        n_bytes += covered_bytes(tt, s, context)
        zeros += np.asarray(layer) * len(s)
        gate += float(np.mean(g)) * len(s)
        count += len(s)
    per_layer = (zeros / count).tolist()
    return TokenEval(nats, n_tok, n_bytes, float(np.mean(per_layer)), gate / count, per_layer)
