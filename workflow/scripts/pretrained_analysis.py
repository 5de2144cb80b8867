"""Rule pretrained_analysis: RSB Fig. 5 and Fig. 7a,b for one pretrained variant (the dense
model, its hard swap, the control or a relufied model): the gate's pre-activation densities
per layer, and the neurons not yet used after t tokens of a prompt."""

import sys

if (
    "snakemake" not in globals()
):  # run by hand: python workflow/scripts/pretrained_analysis.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("pretrained_analysis", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

import torch

from actsparse.pretrained import analysis, stages
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
p, variant = cfg["pretrained"], snakemake.wildcards.variant
a = p["analysis"]
lm = stages.load_variant(snakemake.input.model, variant, p["hard_swap_activation"])
val = Path(snakemake.input.val).read_bytes()
stamp = {"variant": variant, "model": lm.origin}
hist = stages.windows(lm, val, p["context"], a["windows"])
preact = analysis.preact_rows(lm, hist, a["lo"], a["hi"], a["bins"], p["batch_size"])
write_table("pretrained_preact", [{**stamp, **r} for r in preact], snakemake.output.preact, cfg)
prompts = hist.resampled(a["prompts"])
agg = analysis.aggregated_table(lm, prompts, a["every"], p["batch_size"])
above = {r["layer"]: r["frac_above_zero"] for r in preact}
print(
    f"{variant}: pre-activation share above zero {sum(above.values()) / len(above):.4f}",
    file=sys.stderr,
)
write_table(
    "pretrained_aggregated", [{**stamp, **r} for r in agg], snakemake.output.aggregated, cfg
)
