"""Rule pretrained_reuse: RSB Fig. 7c for one pretrained variant with exact zeros (the hard
swap, a relufied model): perplexity after a prompt when alternate gamma-token windows may
only use the previous window's active neurons, against a random set of the same size."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/pretrained_reuse.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("pretrained_reuse", __doc__)
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
val = stages.windows(lm, Path(snakemake.input.val).read_bytes(), p["context"], a["reuse_windows"])
rows = analysis.reuse_rows(
    lm, val, a["reuse_prompt"], a["reuse_gammas"], p["batch_size"], cfg["seed"]
)
for r in rows:
    print(r, file=sys.stderr)
stamp = {"variant": variant, "model": lm.origin}
write_table("pretrained_reuse", [{**stamp, **r} for r in rows], snakemake.output.table, cfg)
