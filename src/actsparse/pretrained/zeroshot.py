"""Zero-shot multiple choice from BIG-bench task files, scored by log-likelihood.

Each example is a context and its choices; a choice's score is the summed log-probability
of its tokens after the context (the continuation is " " + choice, as lm-eval-harness
joins them). `acc` counts the examples whose best-scoring choice is a correct one;
`acc_norm` divides each score by the choice's length in bytes first (lm-eval's length
normalisation, which stops long choices losing for their length alone). Each comes with
its binomial standard error, sqrt(p (1 - p) / (n - 1)), and the task's chance level (the
mean share of correct choices), so a model at chance reads as one.

A task file is BIG-bench's `task.json`: `examples` with `input` and `target_scores`
(choice -> score; the choices with the top score are correct), and optional
`task_prefix`, `example_input_prefix` (default "\\nQ: ") and `example_output_prefix`
(default "\\nA: ") that frame each context, leading newlines dropped (a null in the file
means the default).
"""

from __future__ import annotations

import json
import math
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F
from tqdm import tqdm


class TaskError(ValueError):
    """A task file that is not a BIG-bench multiple-choice task."""


@dataclass(frozen=True)
class Example:
    context: str
    choices: tuple[str, ...]
    gold: frozenset[int]  # indices of the correct choices


def read_task(path: str | Path, limit: int | None = None) -> list[Example]:
    """The multiple-choice examples of a BIG-bench task file; with `limit`, a fixed random
    subset of that many (task files are often grouped by kind, so the first n would not
    be a sample). Choices are not appended to the context (BIG-bench's
    `append_choices_to_input`): each is scored as the continuation, as lm-eval does."""
    try:
        task = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise TaskError(f"cannot read the task file {path}: {e}") from e
    raw = task.get("examples")
    if not isinstance(raw, list):
        raise TaskError(f"{path}: no `examples` list")
    prefix = task.get("task_prefix") or ""
    q = task.get("example_input_prefix") or "\nQ: "
    a = task.get("example_output_prefix") or "\nA: "
    out = []
    for ex in raw:
        scores = ex.get("target_scores")
        if not isinstance(scores, dict) or len(scores) < 2:
            continue  # a generative example: not multiple choice
        choices = tuple(scores)
        top = max(scores.values())
        gold = frozenset(j for j, c in enumerate(choices) if scores[c] == top)
        context = (prefix + q + ex["input"] + a).lstrip("\n").rstrip(" ")
        out.append(Example(context, choices, gold))
    if not out:
        raise TaskError(f"{path}: no multiple-choice example (target_scores with 2+ choices)")
    if limit is not None and limit < len(out):  # a fixed random subset, in file order
        keep = sorted(random.Random(0).sample(range(len(out)), limit))
        out = [out[i] for i in keep]
    return out


# log p(continuation | context) for each continuation of one context, in token ids: the
# one model call a scorer needs per example
LogLikelihoods = Callable[[Sequence[int], Sequence[Sequence[int]]], list[float]]


def causal_loglikelihoods(
    model: Callable[[torch.Tensor], torch.Tensor], max_len: int, pad: int = 0
) -> LogLikelihoods:
    """The summed log-probability of each continuation after `ctx` under a model mapping
    ids [B, T] to logits [B, T, V]: all of an example's choices in one batch (a row per
    choice, right-padded with `pad`: in a causal model a pad after a row's last token
    cannot change that row's logits), each row cut from the left to fit max_len."""

    @torch.no_grad()
    def lls(ctx: Sequence[int], conts: Sequence[Sequence[int]]) -> list[float]:
        if any(len(c) > max_len for c in conts):
            raise TaskError(f"a choice of more than the model's {max_len}-token window")
        rows = [(list(ctx) + list(c))[-(max_len + 1) :] for c in conts]
        width = max(len(r) for r in rows) - 1
        x = torch.full((len(rows), width), pad, dtype=torch.long)
        for i, r in enumerate(rows):
            x[i, : len(r) - 1] = torch.tensor(r[:-1])
        logits = model(x)
        out = []
        for i, (r, c) in enumerate(zip(rows, conts, strict=True)):
            n, end = len(c), len(r) - 1
            logp = F.log_softmax(logits[i, end - n : end].float(), dim=-1)
            out.append(float(logp.gather(1, torch.tensor(r[-n:])[:, None]).sum()))
        return out

    return lls


def binomial_stderr(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / (n - 1)) if n > 1 else float("nan")


def score(
    examples: Sequence[Example],
    encode: Callable[[str], list[int]],
    loglikelihoods: LogLikelihoods,
    desc: str | None = None,
) -> dict[str, float]:
    """acc and acc_norm with their standard errors, the chance level and n (a progress bar
    on stderr when `desc` names the task)."""
    hits = hits_norm = 0
    chance = 0.0
    bar = tqdm(examples, desc=desc, disable=desc is None, file=sys.stderr, mininterval=5.0)
    for ex in bar:
        ctx = encode(ex.context)
        lls = loglikelihoods(ctx, [encode(" " + c) for c in ex.choices])
        norm = [v / max(1, len(c.encode("utf-8"))) for v, c in zip(lls, ex.choices, strict=True)]
        hits += max(range(len(lls)), key=lls.__getitem__) in ex.gold
        hits_norm += max(range(len(norm)), key=norm.__getitem__) in ex.gold
        chance += len(ex.gold) / len(ex.choices)
    n = len(examples)
    acc, acc_norm = hits / n, hits_norm / n
    return {
        "n": n,
        "acc": acc,
        "acc_stderr": binomial_stderr(acc, n),
        "acc_norm": acc_norm,
        "acc_norm_stderr": binomial_stderr(acc_norm, n),
        "chance": chance / n,
    }


def mean_row(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """The tasks' unweighted mean (as RSB and lm-eval average tasks), task "mean": each
    task's score is independent, so the mean's standard error is sqrt(sum se^2) / k."""
    k = len(rows)
    out: dict[str, float] = {"task": "mean", "n": sum(r["n"] for r in rows)}
    for m in ("acc", "acc_norm", "chance"):
        out[m] = sum(r[m] for r in rows) / k
    for m in ("acc_stderr", "acc_norm_stderr"):
        out[m] = math.sqrt(sum(r[m] ** 2 for r in rows)) / k
    return out
