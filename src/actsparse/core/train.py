"""The training loop, readable top to bottom: batch, forward, loss, backward, clip, step.

Resumable bit for bit: the batch of step s and the learning rate of step s are pure
functions of (seed, s), and a checkpoint holds the model, the optimiser, the step and
the curve so far. A run killed at any moment and restarted ends with exactly the same
weights and metrics as a run that was never interrupted (on CPU, same thread count).
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from actsparse.core import checkpoint
from actsparse.core.evaluate import EvalResult, evaluate, window_starts
from actsparse.core.model import ByteGPT


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class Regulariser(Protocol):
    """A penalty added to the loss, computed from captured activations (e.g. L1 on FFN outputs).

    `points` names the capture points it needs (see core.anatomy.CAPTURE_POINTS).
    """

    points: tuple[str, ...]

    def __call__(self, step: int, acts: dict[str, list[torch.Tensor]]) -> torch.Tensor: ...


@dataclass
class TrainConfig:
    steps: int
    batch_size: int
    lr: float
    warmup_steps: int = 0
    min_lr_frac: float = 0.1  # cosine decays to lr * min_lr_frac
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_every: int = 100
    eval_windows: int = 64
    eval_batch_size: int = 32
    checkpoint_every: int = 100
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"  # "bf16": autocast matmuls to bfloat16 (weights stay fp32)

    @classmethod
    def from_dict(cls, d: dict[str, Any], **overrides: Any) -> TrainConfig:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in {**d, **overrides}.items() if k in known})

    @classmethod
    def for_stage(cls, cfg: dict[str, Any], section: str) -> TrainConfig:
        """A stage's training config: its section's hyper-parameters, evaluated on the
        dense model's fixed validation windows so every `ce` in every table is comparable."""
        td = cfg["train_dense"]
        return cls.from_dict(
            cfg[section],
            seed=cfg["seed"],
            device=cfg["device"],
            eval_windows=td["eval_windows"],
            eval_batch_size=td["eval_batch_size"],
        )


@dataclass(frozen=True)
class RunContext:
    """How a training job keeps its state and reports, passed whole through every stage
    function instead of a positional tail. The device and precision are hyper-parameters
    of the stage, so they live in its TrainConfig."""

    checkpoint: str | Path | None = None  # resumed from and saved to; None: no checkpoints
    run_id: str = ""  # the hash of the job's config: a checkpoint of another run is ignored
    progress: bool = True  # a progress bar on stderr
    on_step: Callable[[int], None] | None = None  # after each step (tests die at a chosen one)


@dataclass
class TrainResult:
    curve: list[dict[str, float]] = field(default_factory=list)  # one row per evaluation
    final_val: EvalResult | None = None
    train_wall_s: float = 0.0
    train_bytes: int = 0
    resumed_from: int = 0

    @property
    def train_bytes_per_s(self) -> float:
        return self.train_bytes / self.train_wall_s if self.train_wall_s > 0 else float("nan")


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr_frac * lr at the last step."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_frac
    return floor + 0.5 * (cfg.lr - floor) * (1.0 + math.cos(math.pi * progress))


def batch_at(data: np.ndarray, step: int, seed: int, batch_size: int, context: int) -> torch.Tensor:
    """The training batch of a step: [B, context+1] bytes, a pure function of (seed, step)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    starts = torch.randint(0, len(data) - context - 1, (batch_size,), generator=g).numpy()
    idx = starts[:, None] + np.arange(context + 1)[None, :]
    return torch.from_numpy(data[idx].astype(np.int64))


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but no CUDA GPU is available")
    return torch.device(name)


PRECISIONS = ("fp32", "bf16", "auto")


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux lists them (empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def resolve_precision(device: torch.device, precision: str, flags: set[str] | None = None) -> str:
    """ "auto": bf16 where matmuls have it natively (CUDA, or a CPU with AVX512-BF16 and no
    AMX), else fp32. Without native support bf16 is emulated: a default-model training step
    took ~20x as long as in fp32 on a 2-core AVX2 EPYC. AMX is listed yet unusable on some
    of our Intel machines (SIGILL), and oneDNN would send bf16 matmuls to it."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16"
    flags = cpu_flags() if flags is None else flags
    native = "avx512_bf16" in flags and not any(f.startswith("amx") for f in flags)
    return "bf16" if native else "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on CPU (AVX512-BF16) or CUDA; evaluation always runs in fp32."""
    precision = resolve_precision(device, precision)
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    raise AssertionError(precision)


def make_optimizer(model: ByteGPT, cfg: TrainConfig) -> torch.optim.AdamW:
    """Weight decay on matrices only (not on biases, norms); the tied embedding counts once."""
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), foreach=False)


def train(
    model: ByteGPT,
    train_data: np.ndarray,
    val_data: np.ndarray,
    cfg: TrainConfig,
    run: RunContext = RunContext(),
    regulariser: Regulariser | None = None,
) -> TrainResult:
    """Train in place; resume from run.checkpoint when it holds a checkpoint of the same
    run_id (a checkpoint of a different run is ignored rather than resumed, so an edited
    config never continues a stale run)."""
    device = resolve_device(cfg.device)
    model.to(device)
    context = model.context
    opt = make_optimizer(model, cfg)
    eval_starts = window_starts(len(val_data), context, cfg.eval_windows)
    result = TrainResult()
    start, loss_sum, loss_n = 0, 0.0, 0

    ckpt_path, run_id = run.checkpoint, run.run_id
    if ckpt_path is not None and Path(ckpt_path).exists():
        state = checkpoint.load(ckpt_path, map_location=device)
        if state.get("train", {}).get("run_id") == run_id:
            model.load_state_dict(state["model"])
            model.set_masks(state.get("masks", {}))
            opt.load_state_dict(state["train"]["optimizer"])
            t = state["train"]
            start, loss_sum, loss_n = t["step"], t["loss_sum"], t["loss_n"]
            result.curve, result.train_wall_s = t["curve"], t["train_wall_s"]
            result.resumed_from = start
            print(f"resumed from {ckpt_path} at step {start}", file=sys.stderr)
        else:
            print(f"ignoring {ckpt_path}: it belongs to another run", file=sys.stderr)

    model.enforce_masks()
    model.train()
    precision = resolve_precision(device, cfg.precision)
    print(f"precision: {cfg.precision} -> {precision} on {device.type}", file=sys.stderr)
    points = regulariser.points if regulariser else ()
    bar = tqdm(
        total=cfg.steps,
        initial=start,
        disable=not run.progress,
        file=sys.stderr,
        desc="train",
        unit="step",
        mininterval=2.0,
        dynamic_ncols=True,
    )
    t_last = time.perf_counter()
    for step in range(start, cfg.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        batch = batch_at(train_data, step, cfg.seed, cfg.batch_size, context).to(device)
        x, y = batch[:, :-1], batch[:, 1:]
        with model.capture(points, detach=False) as acts, autocast(device, precision):
            logits = model(x)
            ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1))
            loss = ce + regulariser(step, acts) if regulariser else ce
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"loss is {loss.item()} at step {step} (ce {ce.item()}); lower the learning "
                f"rate or the regulariser strength, or raise grad_clip"
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        model.enforce_masks()
        loss_sum, loss_n = loss_sum + ce.item(), loss_n + 1
        done = step + 1
        bar.update(1)

        if done % cfg.eval_every == 0 or done == cfg.steps:
            now = time.perf_counter()
            result.train_wall_s += now - t_last
            ev = evaluate(model, val_data, eval_starts, context, cfg.eval_batch_size, device)
            result.curve.append(
                {
                    "step": done,
                    "ce": ev.ce,
                    "train_ce": loss_sum / loss_n,
                    "lr": lr_at(step, cfg),
                    "act_sparsity": ev.act_sparsity,
                }
            )
            bar.set_postfix(val_ce=f"{ev.ce:.3f}", train_ce=f"{loss_sum / loss_n:.3f}")
            loss_sum, loss_n = 0.0, 0
            t_last = time.perf_counter()
        if ckpt_path is not None and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            now = time.perf_counter()
            result.train_wall_s += now - t_last
            t_last = now
            payload = checkpoint.model_payload(model, {"run_id": run_id})
            payload["train"] = {
                "run_id": run_id,
                "step": done,
                "optimizer": opt.state_dict(),
                "loss_sum": loss_sum,
                "loss_n": loss_n,
                "curve": result.curve,
                "train_wall_s": result.train_wall_s,
            }
            checkpoint.save_atomic(payload, ckpt_path)
        if run.on_step is not None:
            run.on_step(done)
    bar.close()
    result.train_wall_s += time.perf_counter() - t_last
    result.train_bytes = cfg.steps * cfg.batch_size * context  # wall time also spans all steps
    result.final_val = evaluate(model, val_data, eval_starts, context, cfg.eval_batch_size, device)
    return result
