import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from actsparse.core import checkpoint
from actsparse.core.checkpoint import CheckpointError
from actsparse.core.model import ByteGPT, capture
from actsparse.core.train import RunContext, TrainConfig, TrainingDiverged, batch_at, lr_at, train
from tests.conftest import QUIET, tiny_config

REPO = Path(__file__).resolve().parents[1]


def small_cfg(**kw) -> TrainConfig:
    base = dict(
        steps=12,
        batch_size=4,
        lr=3e-3,
        warmup_steps=2,
        eval_every=4,
        eval_windows=4,
        checkpoint_every=4,
    )
    return TrainConfig(**{**base, **kw})


def test_lr_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(steps=100, batch_size=1, lr=1.0, warmup_steps=10, min_lr_frac=0.1)
    assert lr_at(0, cfg) == pytest.approx(0.1)
    assert lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(10, cfg) == pytest.approx(1.0)
    assert lr_at(100, cfg) == pytest.approx(0.1)
    assert lr_at(55, cfg) == pytest.approx(0.55)


def test_batch_of_a_step_is_a_pure_function_of_seed_and_step(byte_stream):
    a = batch_at(byte_stream, 7, 0, 4, 16)
    assert torch.equal(a, batch_at(byte_stream, 7, 0, 4, 16))
    assert not torch.equal(a, batch_at(byte_stream, 8, 0, 4, 16))
    assert a.shape == (4, 17)


def test_training_lowers_validation_ce(tiny_model, byte_stream):
    result = train(tiny_model, byte_stream, byte_stream, small_cfg(steps=40), QUIET)
    assert result.curve[-1]["ce"] < result.curve[0]["ce"] - 0.5


def test_masked_weights_stay_zero_after_finetune(tiny_model, byte_stream):
    names = ["h.0.mlp.c_fc.weight", "h.1.mlp.c_proj.weight"]
    params = dict(tiny_model.named_parameters())
    masks = {n: torch.rand(params[n].shape) > 0.5 for n in names}
    tiny_model.set_masks(masks)
    train(tiny_model, byte_stream, byte_stream, small_cfg(), QUIET)
    for n in names:
        assert torch.all(params[n][~masks[n]] == 0)
        assert (params[n][masks[n]] != 0).float().mean() > 0.99


class L1OnFFN:
    points = ("ffn_post",)

    def __init__(self, lam: float) -> None:
        self.lam = lam

    def __call__(self, step, acts):
        return self.lam * sum(a.abs().mean() for a in acts["ffn_post"])


def test_regulariser_sees_activations_with_their_graph(byte_stream):
    torch.manual_seed(0)
    model = ByteGPT(tiny_config(activation="relu"))
    train(
        model,
        byte_stream,
        byte_stream,
        small_cfg(steps=30),
        QUIET,
        L1OnFFN(5.0),
    )
    with torch.no_grad(), capture(model) as acts:
        model(torch.from_numpy(byte_stream[:32].astype(np.int64))[None])
    assert (acts["ffn_post"][0] == 0).float().mean() > 0.8


def test_nan_loss_stops_with_an_error_naming_the_step(tiny_model, byte_stream):
    class NanAtStep3:
        points = ()

        def __call__(self, step, acts):
            return torch.tensor(float("nan") if step == 3 else 0.0)

    with pytest.raises(TrainingDiverged, match="at step 3"):
        train(
            tiny_model,
            byte_stream,
            byte_stream,
            small_cfg(),
            QUIET,
            NanAtStep3(),
        )


def test_checkpoint_loads_with_weights_only(tmp_path, tiny_model, byte_stream):
    ck = tmp_path / "ck.pt"
    train(tiny_model, byte_stream, byte_stream, small_cfg(), RunContext(ck, "r", progress=False))
    obj = torch.load(ck, weights_only=True)
    assert obj["train"]["step"] == 12
    model, meta = checkpoint.load_model(ck)
    assert meta["run_id"] == "r"
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), tiny_model.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_checkpoint_gives_a_clear_error(tmp_path, tiny_model, damage):
    ck = tmp_path / "model.pt"
    checkpoint.save_model(tiny_model, ck)
    blob = ck.read_bytes()
    ck.write_bytes(
        {"truncate": blob[: len(blob) // 2], "garbage": os.urandom(4096), "empty": b""}[damage]
    )
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        checkpoint.load_model(ck)


def test_missing_checkpoint_gives_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.load_model(tmp_path / "nope.pt")


def test_checkpoint_of_another_run_is_not_resumed(tmp_path, tiny_model, byte_stream):
    ck = tmp_path / "ck.pt"
    train(tiny_model, byte_stream, byte_stream, small_cfg(), RunContext(ck, "a", progress=False))
    torch.manual_seed(0)
    other = ByteGPT(tiny_config())
    result = train(
        other, byte_stream, byte_stream, small_cfg(), RunContext(ck, "b", progress=False)
    )
    assert result.resumed_from == 0


# --- resume after SIGKILL ------------------------------------------------------------------
RUNNER = r"""
import json, os, signal, sys
import numpy as np, torch
sys.path.insert(0, sys.argv[4])
from tests.conftest import tiny_config
from actsparse.core.model import ByteGPT
from actsparse.core.train import RunContext, TrainConfig, train
torch.set_num_threads(1)
ckpt, out, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(0)
text = np.frombuffer(b"the quick brown fox jumps over the lazy dog. " * 400, dtype=np.uint8)
data = np.where(rng.random(len(text)) < 0.02, rng.integers(0, 256, len(text)), text)
data = data.astype(np.uint8)
torch.manual_seed(0)
model = ByteGPT(tiny_config())
cfg = TrainConfig(steps=30, batch_size=4, lr=3e-3, warmup_steps=3, eval_every=5,
                  eval_windows=4, checkpoint_every=10)
def die(step):
    if step == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
run = RunContext(ckpt if ckpt != "-" else None, "x", progress=False, on_step=die)
r = train(model, data, data, cfg, run)
torch.save({k: v for k, v in model.state_dict().items()}, out + ".pt")
json.dump({"curve": r.curve, "final": r.final_val.ce, "resumed_from": r.resumed_from},
          open(out + ".json", "w"))
"""


def run_trainer(tmp_path: Path, ckpt: str, out: str, kill_at: int) -> int:
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    proc = subprocess.run(
        [sys.executable, str(script), ckpt, str(tmp_path / out), str(kill_at), str(REPO)],
        capture_output=True,
        text=True,
    )
    return proc.returncode


@pytest.mark.slow
def test_resume_after_sigkill_is_bitwise_identical(tmp_path):
    assert run_trainer(tmp_path, "-", "clean", -1) == 0
    ck = str(tmp_path / "ck.pt")
    assert run_trainer(tmp_path, ck, "killed", 23) == -9  # SIGKILL after the step-20 checkpoint
    assert run_trainer(tmp_path, ck, "resumed", -1) == 0
    clean = json.loads((tmp_path / "clean.json").read_text())
    resumed = json.loads((tmp_path / "resumed.json").read_text())
    assert resumed["resumed_from"] == 20
    assert resumed["curve"] == clean["curve"]  # float equality, not approx
    assert resumed["final"] == clean["final"]
    a = torch.load(tmp_path / "clean.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_auto_precision_is_bf16_only_where_the_hardware_has_it():
    from actsparse.core.train import resolve_precision

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_precision(cpu, "auto", {"avx2", "avx512f", "avx512_bf16"}) == "bf16"  # Zen 4
    assert resolve_precision(cpu, "auto", {"avx2", "fma"}) == "fp32"  # emulated bf16: slow
    amx = {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}
    assert resolve_precision(cpu, "auto", amx) == "fp32"  # AMX listed, unusable: SIGILL
    assert resolve_precision(cuda, "auto", set()) == "bf16"
    assert resolve_precision(cpu, "bf16", set()) == "bf16"  # what is asked for, is run
    assert resolve_precision(cpu, "fp32", {"avx512_bf16"}) == "fp32"
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        resolve_precision(cpu, "fp8")
