"""Rule dense_stats: how the dense GELU model naturally spreads its FFN activations."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.checkpoint import load_model
from actsparse.corpus import read_split
from actsparse.evaluate import window_starts
from actsparse.retrofit import dense_stats_rows
from actsparse.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
model, _ = load_model(snakemake.input.model)
val = read_split(snakemake.input.val)
starts = window_starts(len(val), model.cfg.block_size, cfg["train_dense"]["eval_windows"])
ds = cfg["dense_stats"]
rows = dense_stats_rows(model, val, starts, ds["taus"], ds["energy_points"])
write_table("dense_stats", [{"variant": "dense", **r} for r in rows], snakemake.output.table, cfg)
