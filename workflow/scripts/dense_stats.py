"""Rule dense_stats: how the dense GELU model naturally spreads its FFN activations."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/dense_stats.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("dense_stats", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.core.evaluate import load_for_eval
from actsparse.methods.retrofit import dense_stats_rows
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
model, val, starts = load_for_eval(
    snakemake.input.model, snakemake.input.val, cfg["train_dense"]["eval_windows"]
)
ds = cfg["dense_stats"]
rows = dense_stats_rows(model, val, starts, ds["taus"], ds["energy_points"])
write_table("dense_stats", [{"variant": "dense", **r} for r in rows], snakemake.output.table, cfg)
