"""Rule pretrained_dense_stats: how the pretrained model naturally spreads its FFN
activations (RSB Fig. 1a: a SiLU model has almost no exact zeros)."""

import sys

if (
    "snakemake" not in globals()
):  # run by hand: python workflow/scripts/pretrained_dense_stats.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("pretrained_dense_stats", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

import torch

from actsparse.pretrained import stages
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
p = cfg["pretrained"]
lm = stages.load_model(snakemake.input.model)
val = stages.windows(lm, Path(snakemake.input.val).read_bytes(), p["context"], p["eval_windows"])
rows = stages.dense_stats_rows(lm, val, p["taus"], p["batch_size"])
rows = [{"variant": "dense", "model": lm.origin, **r} for r in rows]
write_table("pretrained_dense_stats", rows, snakemake.output.table, cfg)
