"""Rule pretrained_cett: CETT-PPL-p% of one pretrained variant (the dense model, its hard
swap, a relufied model, or one with FATReLU at T): per PPL rise, the share of inactive
neurons at the largest shared CETT target whose perplexity stays within that rise of the
dense model's."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/pretrained_cett.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("pretrained_cett", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

import torch

from actsparse.pretrained import stages
from actsparse.report.tables import read_table, write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
p, variant = cfg["pretrained"], snakemake.wildcards.variant
lm = stages.load_variant(snakemake.input.model, variant, p["hard_swap_activation"])
reference_ce = stages.dense_ce(read_table(snakemake.input.dense))
read = {s: Path(snakemake.input[s]).read_bytes() for s in ("val", "train")}
val = stages.windows(lm, read["val"], p["context"], p["eval_windows"])
calib = stages.windows(lm, read["train"], p["context"], p["calib_windows"])
rows = stages.cett_rows(lm, val, calib, reference_ce, p)
for row in rows:
    print(row, file=sys.stderr)
write_table(
    "pretrained_cett", [{"variant": variant, **r} for r in rows], snakemake.output.table, cfg
)
