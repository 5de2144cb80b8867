"""Rule cett: CETT-PPL-p% of one byte-model variant (the dense model, its hard swap, a
relufied model, one with FATReLU, stage 2 or shifted ReLU): per PPL rise, the share of
inactive neurons at the largest shared CETT target whose perplexity stays within that rise
of the dense model's, on the fixed validation windows."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/cett.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("cett", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.core.checkpoint import load_model
from actsparse.core.corpus import read_split
from actsparse.core.variants import split_fat
from actsparse.methods.cett import byte_model_rows
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
variant = snakemake.wildcards.variant
model, _ = load_model(snakemake.input.model)
if variant == "hard_swap":
    model.set_activation(cfg["hard_swap"]["activation"])
elif (fat := split_fat(variant)[1]) is not None:  # a stage-1 model with FATReLU at T
    model.set_activation("fatrelu", shift=fat)
dense, _ = load_model(snakemake.input.dense)
rows = byte_model_rows(
    model,
    dense,
    read_split(snakemake.input.val),
    read_split(snakemake.input.train),
    cfg["train_dense"]["eval_windows"],
    cfg["cett"],
)
for row in rows:
    print(row, file=sys.stderr)
write_table("cett", [{"variant": variant, **r} for r in rows], snakemake.output.table, cfg)
