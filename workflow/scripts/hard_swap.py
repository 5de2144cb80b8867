"""Rule hard_swap: GELU -> ReLU on the trained model, no retraining."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.checkpoint import load_model
from actsparse.corpus import read_split
from actsparse.evaluate import window_starts
from actsparse.retrofit import hard_swap_rows
from actsparse.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
model, _ = load_model(snakemake.input.model)
val = read_split(snakemake.input.val)
starts = window_starts(len(val), model.cfg.block_size, cfg["train_dense"]["eval_windows"])
rows = hard_swap_rows(model, val, starts, cfg["hard_swap"]["activation"])
print(rows[0], file=sys.stderr)
write_table("hard_swap", rows, snakemake.output.table, cfg)
