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


# Which kernel paths the session's tests exercised: a test id names its path (test_kernels,
# test_up_screen, test_decode). With ACTSPARSE_REQUIRE_ISAS=1 (make test, hence CI) the
# run fails unless every path this CPU runs passed at least one test: a SIMD path silently
# skipped, or replaced by another, would otherwise leave the pass count looking the same.
ISA_IDS = ("avx512", "avx2", "portable")
_isas_passed: set[str] = set()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed and "[" in report.nodeid:
        params = report.nodeid.split("[", 1)[1].rstrip("]").replace("_", "-").split("-")
        _isas_passed.update(
            p.removesuffix("vnni") for p in params if p.removesuffix("vnni") in ISA_IDS
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import os

    if os.environ.get("ACTSPARSE_REQUIRE_ISAS") != "1" or exitstatus != 0:
        return
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker saw its share only: the controller sees every report
    from actsparse.inference import kernels as K

    if K.unavailable():
        return  # the kernel tests have failed already, saying why
    missing = [isa for isa in K.supported_isas() if isa not in _isas_passed]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    line = (
        f"kernel paths this CPU runs: {', '.join(K.supported_isas())}; "
        f"paths that passed tests: {', '.join(sorted(_isas_passed)) or 'none'}"
    )
    if reporter:
        reporter.write_line(line)
    if missing:
        if reporter:
            reporter.write_line(f"FAILED: no test ran the {', '.join(missing)} path(s)", red=True)
        session.exitstatus = 1


# Under xdist (make test: `-n 2 --dist loadfile --no-loadscope-reorder`) each test file runs
# whole on one worker, files in this order. The workflow tests share one smoke run (minutes)
# and the kernel tests include from-scratch builds: they go first, one to each worker. The
# GPT-2 family's workflow run (2-3 min) goes next, to the kernel tests' worker while the
# smoke run's file still holds the other, and the short files fill in behind them. A plain
# sequential run keeps this order too.
FIRST_FILES = ("test_workflow.py", "test_kernels.py", "test_workflow_gpt2.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return FIRST_FILES.index(name) if name in FIRST_FILES else len(FIRST_FILES)

    items.sort(key=rank)  # stable: the order within a file, and among the rest, is kept
