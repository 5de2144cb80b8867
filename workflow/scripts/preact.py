"""Rule preact: per-layer FFN pre-activation histograms of the dense model, of the same
weights right after the ReLU swap, and of the relufied model after its fine-tune (RSB Fig. 5)."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.checkpoint import load_model
from actsparse.corpus import read_splits
from actsparse.evaluate import window_starts
from actsparse.preact import histogram_rows, preactivations
from actsparse.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
p = cfg["preact"]
val = read_splits(snakemake.input)["val"]
dense, _ = load_model(snakemake.input.dense)
relufied, _ = load_model(snakemake.input.relufied)
starts = list(window_starts(len(val), dense.cfg.block_size, p["windows"]))
swapped, _ = load_model(snakemake.input.dense)
swapped.set_activation("relu")
rows = []
for variant, model in (("dense", dense), ("swapped", swapped), ("relufied", relufied)):
    values = preactivations(model, val, starts)
    rows += [{"variant": variant, **r} for r in histogram_rows(values, p["lo"], p["hi"], p["bins"])]
write_table("preact", rows, snakemake.output.table, cfg)
