"""Shared fixtures: tiny models and a synthetic byte stream (no network, milliseconds)."""

import numpy as np
import pytest
import torch

from actsparse.core.model import ByteGPT, ModelConfig
from actsparse.core.train import RunContext

QUIET = RunContext(progress=False)  # no checkpoint, no progress bar


def tiny_config(**overrides) -> ModelConfig:
    base = dict(n_layer=2, n_head=2, n_embd=32, block_size=32, ffn_mult=4)
    return ModelConfig(**{**base, **overrides})


@pytest.fixture
def tiny_model() -> ByteGPT:
    torch.manual_seed(0)
    return ByteGPT(tiny_config())


@pytest.fixture
def byte_stream() -> np.ndarray:
    """Learnable bytes: a repeated English sentence with a little noise."""
    rng = np.random.default_rng(0)
    text = np.frombuffer(b"the quick brown fox jumps over the lazy dog. " * 400, dtype=np.uint8)
    noise = rng.integers(0, 256, len(text), dtype=np.uint8)
    return np.where(rng.random(len(text)) < 0.02, noise, text).astype(np.uint8)
