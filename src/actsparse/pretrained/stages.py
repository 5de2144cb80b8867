"""The training-free stages on a pretrained model, as table rows: its natural activation
statistics (RSB Fig. 1a: a SiLU model is barely sparse), training-free thresholds (CATS /
TEAL, the seed's naive gating at real scale), and the hard SiLU -> ReLU swap (the seed's
retrofit failure). Every row carries ce per token, bpb and the exact-zero fractions, and
the zero-shot scores of the same model where tasks are given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from actsparse.core.variants import split_fat
from actsparse.methods import cett as C
from actsparse.methods import thresholds as T
from actsparse.methods.finetune import quality as finetune_quality
from actsparse.metrics.flops import Shape, dense_flops, input_sparse_flops
from actsparse.metrics.sparsity import (
    energy_width,
    exact_zero_fraction,
    frac_active_tau,
    mean_exact_zero_fraction,
)
from actsparse.pretrained import text, zeroshot
from actsparse.pretrained.lm import PretrainedLM
from actsparse.report.tables import end_points


@dataclass(frozen=True)
class Windows:
    """A split through the model's tokenizer and its fixed windows of context + 1 tokens."""

    tokens: text.TokenText
    starts: np.ndarray
    context: int

    def batches(self, batch: int) -> list[torch.Tensor]:
        """Input ids [B, context] of the windows (the last token of each is only a target)."""
        ids = self.tokens.ids
        rows = [ids[s : s + self.context] for s in self.starts]
        return [torch.from_numpy(np.stack(rows[i : i + batch])) for i in range(0, len(rows), batch)]

    def resampled(self, n_windows: int) -> Windows:
        """n_windows fixed windows of the same tokens (the split is tokenized once)."""
        starts = text.window_starts(len(self.tokens.ids), self.context, n_windows)
        return Windows(self.tokens, starts, self.context)


def windows(lm: PretrainedLM, data: bytes, context: int, n_windows: int) -> Windows:
    if context > lm.positions:
        raise ValueError(f"context {context} exceeds the model's {lm.positions} positions")
    tt = text.tokenize(lm.tokenizer, data)
    return Windows(tt, text.window_starts(len(tt.ids), context, n_windows), context)


def quality(ev: text.TokenEval, dense: text.TokenEval) -> dict[str, float]:
    """ce with its delta_ce and rel_ce against the dense model (methods.finetune.quality),
    bpb, perplexity, the exact zeros and what was scored."""
    return {
        **finetune_quality(ev.ce, dense.ce),
        "bpb": ev.bpb,
        "ppl": math.exp(ev.ce),
        "act_sparsity": ev.act_sparsity,
        "gate_zeros": ev.gate_zeros,
        "tokens": ev.tokens,
        "text_bytes": ev.bytes,
    }


def evaluate(lm: PretrainedLM, val: Windows, batch: int) -> text.TokenEval:
    return text.evaluate(lm, val.tokens, val.starts, val.context, batch)


def zeroshot_scores(
    lm: PretrainedLM, tasks: Mapping[str, Path], limit: int | None
) -> list[dict[str, Any]]:
    """One row per task: acc, acc_norm, their standard errors, chance, n; then the tasks'
    mean (task "mean")."""

    def encode(s: str) -> list[int]:
        return lm.tokenizer.encode(s, add_special_tokens=False)

    pad = lm.tokenizer.pad_token_id or lm.tokenizer.eos_token_id or 0
    ll = zeroshot.causal_loglikelihoods(lm, lm.context, pad)
    rows = [
        {"task": name, **zeroshot.score(zeroshot.read_task(path, limit), encode, ll, name)}
        for name, path in tasks.items()
    ]
    return [*rows, zeroshot.mean_row(rows)]


def zeroshot_rows(
    lm: PretrainedLM, variant: str, method: str, task_files: Sequence[str], zeroshot_cfg: dict
) -> list[dict[str, Any]]:
    """The pretrained_zeroshot rows of one trained variant, keyed as every fine-tune writes
    them, so that a table gathered from several rules joins on (variant, model, method)."""
    tasks = dict(zip(zeroshot_cfg["tasks"], map(Path, task_files), strict=True))
    return [
        {"variant": variant, "model": lm.origin, "method": method, **r}
        for r in zeroshot_scores(lm, tasks, zeroshot_cfg["limit"])
    ]


@torch.no_grad()
def dense_stats_rows(lm: PretrainedLM, val: Windows, taus: Sequence[float], batch: int) -> list:
    """Per layer: exact zeros of the gate output and of the down input, the share of
    |gate output| above each tau, and the width holding 95% of the gate output's energy."""
    n_layer = len(lm.blocks)
    sums: dict[str, np.ndarray] = {}
    count = 0
    with lm.capture(("ffn_post", "down_in")) as cap:
        for x in val.batches(batch):
            lm(x)
            stats = {
                "gate_zeros": [exact_zero_fraction(t) for t in cap["ffn_post"]],
                "act_sparsity": [exact_zero_fraction(t) for t in cap["down_in"]],
                "energy95_width": [energy_width(t) for t in cap["ffn_post"]],
                **{f"tau{tau}": [frac_active_tau(t, tau) for t in cap["ffn_post"]] for tau in taus},
            }
            for k, v in stats.items():
                sums[k] = sums.get(k, np.zeros(n_layer)) + np.asarray(v) * len(x)
            count += len(x)
    rows = []
    for layer in range(n_layer):
        mean = {k: float(v[layer] / count) for k, v in sums.items()}
        for tau in taus:
            rows.append(
                {
                    "layer": layer,
                    "tau": tau,
                    "frac_active_tau": mean[f"tau{tau}"],
                    "gate_zeros": mean["gate_zeros"],
                    "act_sparsity": mean["act_sparsity"],
                    "energy95_width": mean["energy95_width"],
                }
            )
    return rows


# RSB Table 1's capture points: the inputs of the QKV, up (and gate) and down projections.
INPUTS = {"qkv_in": "qkv_in_sparsity", "up_in": "up_in_sparsity", "down_in": "down_in_sparsity"}


@torch.no_grad()
def input_sparsity(lm: PretrainedLM, val: Windows, batch: int) -> dict[str, float]:
    """Exact-zero fraction at the inputs of the QKV, up and down projections, each layer
    weighing the same (as the byte model's methods.relufy.input_sparsity), over the
    validation windows."""
    sums = dict.fromkeys(INPUTS, 0.0)
    count = 0
    with lm.capture(tuple(INPUTS)) as cap:
        for x in val.batches(batch):
            lm(x)
            for point in INPUTS:
                sums[point] += mean_exact_zero_fraction(cap[point]) * len(x)
            count += len(x)
    return {column: sums[point] / count for point, column in INPUTS.items()}


def inputs_row(lm: PretrainedLM, val: Windows, ce_dense: float, batch: int) -> dict:
    """RSB Table 1 for one variant: its input sparsities, the FLOPs per token of a forward
    pass that skips the columns of zero inputs (metrics.flops.input_sparse_flops), and its
    quality against the dense model on the same windows."""
    s = input_sparsity(lm, val, batch)
    shape = Shape.of_hf(lm.hf.config, val.context, lm.anatomy.gated)
    flops = input_sparse_flops(
        shape, s["qkv_in_sparsity"], s["up_in_sparsity"], s["down_in_sparsity"]
    )
    ev = evaluate(lm, val, batch)
    return {
        "model": lm.origin,
        **s,
        "flops_per_token": flops,
        "flops_frac_of_dense": flops / dense_flops(shape).total,
        **finetune_quality(ev.ce, ce_dense),
        "bpb": ev.bpb,
    }


def hard_swap_row(
    lm: PretrainedLM, val: Windows, activation: str, dense: text.TokenEval, batch: int
) -> dict[str, Any]:
    """The FFN activation swapped in place (SiLU -> ReLU in the gate), no training."""
    lm.set_activation(activation)
    return {"activation": activation, **quality(evaluate(lm, val, batch), dense)}


METHODS = ("dense", "thresholds", "hard_swap")


def load_variant(model_dir: str | Path, variant: str, hard_swap_activation: str) -> PretrainedLM:
    """A saved model as the variant named: the hard swap made from the dense model, and
    relufy_<s>_fat<T> from its relufied model with FATReLU at T (neither is saved)."""
    lm = load_model(model_dir)
    if variant == "hard_swap":
        lm.set_activation(hard_swap_activation)
    elif (fat := split_fat(variant)[1]) is not None:
        lm.set_activation("fatrelu", shift=fat)
    return lm


def dense_ce(quality: pd.DataFrame) -> float:
    """The dense model's ce per token in a pretrained_quality table (or its dense part)."""
    return float(quality.loc[quality["method"] == "dense", "ce"].iloc[0])


def load_model(model_dir: str | Path) -> PretrainedLM:
    """A model the pretrained_model stage saved (its origin is in its actsparse.json)."""
    from actsparse.pretrained.lm import load
    from actsparse.pretrained.source import ModelFiles

    return load(ModelFiles("hf_dir", Path(model_dir), str(model_dir)))


def method_rows(
    method: str,
    lm: PretrainedLM,
    val_bytes: bytes,
    train_bytes: bytes,
    tasks: Mapping[str, Path],
    cfg: Mapping[str, Any],
) -> tuple[list[dict], list[dict]]:
    """(pretrained_quality rows, pretrained_zeroshot rows) of one method on the dense
    model: itself, its training-free thresholds at each target sparsity, or its hard swap.
    Zero-shot is scored on every variant a row describes."""
    if method not in METHODS:
        raise ValueError(f"unknown pretrained method {method!r}; known: {METHODS}")
    batch, limit = cfg["batch_size"], cfg["zeroshot"]["limit"]
    val = windows(lm, val_bytes, cfg["context"], cfg["eval_windows"])
    dense = evaluate(lm, val, batch)
    base = {"model": lm.origin, "method": method}

    def scored(extra: dict[str, Any]) -> list[dict]:
        return [{**base, **extra, **r} for r in zeroshot_scores(lm, tasks, limit)]

    if method == "dense":
        return [{**base, "activation": lm.activation, **quality(dense, dense)}], scored({})
    if method == "hard_swap":
        row = hard_swap_row(lm, val, cfg["hard_swap_activation"], dense, batch)
        return [{**base, **row}], scored({})
    calib = windows(lm, train_bytes, cfg["context"], cfg["calib_windows"])
    quality_rows, zs_rows = [], []
    targets = cfg["threshold_sparsities"]
    by_target = T.calibrate(lm.hf, lm.anatomy, calib.batches(batch), targets, forward=lm)
    for s, cuts in zip(targets, by_target, strict=True):
        with T.thresholded(lm.hf, lm.anatomy, cuts):
            ev = evaluate(lm, val, batch)
            extra = {"target_sparsity": s}
            quality_rows.append(
                {
                    **base,
                    **extra,
                    "activation": lm.activation,
                    "threshold_mean": float(np.mean(cuts)),
                    **quality(ev, dense),
                }
            )
            zs_rows += scored(extra)
    return quality_rows, zs_rows


def cett_rows(
    lm: PretrainedLM,
    val: Windows,
    calib: Windows,
    reference_ce: float,
    cfg: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """CETT-PPL-p% of the model as it stands (methods.cett) on the fixed validation
    windows, against the dense model's ce on them."""
    batch, c = cfg["batch_size"], cfg["cett"]
    rows = C.rows(
        lm.hf,
        lm.anatomy,
        calib.batches(batch),
        lambda: evaluate(lm, val, batch),
        reference_ce,
        c["rises"],
        c["steps"],
        forward=lm,
    )
    return [{"model": lm.origin, **r} for r in rows]


def flops_points(
    quality: pd.DataFrame, relufy: pd.DataFrame, control: pd.DataFrame
) -> list[tuple[str, float, float]]:
    """(variant, act_sparsity, weight_sparsity) of every pretrained variant: each training-
    free row, and each fine-tune's end points (report.tables.end_points). A ReLU gate's
    zeros are the down input's, so act_sparsity is what a gated FFN's exact path skips."""
    points = [(str(r.variant), float(r.act_sparsity), 0.0) for r in quality.itertuples()]
    for df in (relufy, control):
        for variant, r in end_points(df).iterrows():
            points.append((str(variant), float(r.act_sparsity), 0.0))
    return points
