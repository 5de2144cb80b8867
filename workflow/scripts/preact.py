"""Rule preact: per-layer FFN pre-activation histograms of the dense model, of the same
weights right after the ReLU swap, and of the relufied model after its fine-tune (RSB Fig. 5)."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/preact.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("preact", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.analysis.preact import histogram_rows, preactivations
from actsparse.core.checkpoint import load_model
from actsparse.core.corpus import read_splits
from actsparse.core.evaluate import window_starts
from actsparse.report.tables import write_table

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
