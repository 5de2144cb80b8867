"""Rule naive_gating: zero GELU outputs below tau at inference; one job per tau."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.checkpoint import load_model
from actsparse.corpus import read_split
from actsparse.evaluate import window_starts
from actsparse.retrofit import naive_gating_row
from actsparse.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg, tau = snakemake.params.cfg, snakemake.params.tau
model, _ = load_model(snakemake.input.model)
val = read_split(snakemake.input.val)
starts = window_starts(len(val), model.cfg.block_size, cfg["train_dense"]["eval_windows"])
row = naive_gating_row(model, val, starts, tau, cfg["naive_gating"]["max_rel_ce"])
print(row, file=sys.stderr)
write_table("naive_gating", [row], snakemake.output.part, cfg)
