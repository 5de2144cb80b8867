"""RSB's analyses of a relufied model, on a pretrained one: the gate's pre-activation
distribution per layer (Fig. 5: how much mass the ReLU cutoff leaves above zero, before and
after the fine-tune), aggregated sparsity over a prompt (Fig. 7a,b: the neurons not yet
used after t tokens, against the s_i^t of fresh random neurons each token), and neuron
reuse (Fig. 7c: alternate gamma-token windows restricted to the previous window's neurons,
against a random set of the same size).

The byte model's versions (analysis.preact, analysis.aggregated) read the same capture
points; here the windows are tokens of the model's own tokenizer, and the counts are
accumulated batch by batch because a 30-layer model's activations do not fit at once.
"""

from __future__ import annotations

from typing import Any

import torch

from actsparse.analysis import reuse
from actsparse.analysis.aggregated import aggregated_rows
from actsparse.analysis.preact import LayerHistograms
from actsparse.core import anatomy as A
from actsparse.pretrained.lm import PretrainedLM
from actsparse.pretrained.stages import Windows


@torch.no_grad()
def preact_rows(
    lm: PretrainedLM, val: Windows, lo: float, hi: float, bins: int, batch: int
) -> list[dict[str, Any]]:
    """Per layer and bin: the density of the gate's pre-activation (the input of the FFN
    activation) over the windows, and its fraction above zero."""
    hist = LayerHistograms(len(lm.blocks), lo, hi, bins)
    with lm.capture(("ffn_pre",)) as cap:
        for x in val.batches(batch):
            lm(x)
            hist.add(cap["ffn_pre"])
    return hist.rows()


@torch.no_grad()
def active_sets(lm: PretrainedLM, prompts: Windows, batch: int) -> list[torch.Tensor]:
    """Per layer: bool [prompts, T, F], True where the down projection's input is nonzero
    (in a gated FFN the gate's zeros land there; the up projection has no exact zeros)."""
    chunks: list[list[torch.Tensor]] = [[] for _ in lm.blocks]
    with lm.capture(("down_in",)) as cap:
        for x in prompts.batches(batch):
            lm(x)
            for layer, a in enumerate(cap["down_in"]):
                chunks[layer].append(a != 0)
    return [torch.cat(c) for c in chunks]


def aggregated_table(lm: PretrainedLM, prompts: Windows, every: int, batch: int) -> list[dict]:
    """analysis.aggregated.aggregated_rows over the prompts, every `every` tokens."""
    return aggregated_rows(active_sets(lm, prompts, batch), every)


def reuse_rows(
    lm: PretrainedLM, prompts: Windows, prompt: int, gammas: list[int], batch: int, seed: int
) -> list[dict[str, Any]]:
    """RSB Fig. 7c on the pretrained model: hooks on each block's FFN activation (the gate's,
    so a masked neuron's gate output, and with it its product with up, is zero)."""
    acts = [A.module_at(b, lm.anatomy.act) for b in lm.blocks]
    batches = prompts.batches(batch)
    return reuse.rows_for(
        lambda g, k: reuse.masked_ce(lm, acts, batches, prompt, g, k, seed), gammas
    )
