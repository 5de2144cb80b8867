"""Rule naive_gating: zero GELU outputs below tau at inference; one job per tau."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.retrofit import load_for_eval, naive_gating_row
from actsparse.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg, tau = snakemake.params.cfg, snakemake.params.tau
model, val, starts = load_for_eval(
    snakemake.input.model, snakemake.input.val, cfg["train_dense"]["eval_windows"]
)
row = naive_gating_row(model, val, starts, tau, cfg["naive_gating"]["max_rel_ce"])
print(row, file=sys.stderr)
write_table("naive_gating", [row], snakemake.output.part, cfg)
