"""Rule train_dense: the dense GELU baseline, its curve, and the compressor yardstick."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/train_dense.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("train_dense", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.core.corpus import read_split
from actsparse.methods.dense import train_dense
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
splits = {k: read_split(snakemake.input[k]) for k in ("train", "val", "test")}
rows = train_dense(cfg, splits, snakemake.output.model, snakemake.params.checkpoint)
write_table("train_dense", rows, snakemake.output.table, cfg)
for r in rows:
    if r["row_type"] != "curve":
        print(f"{r['variant']:>8} {r['split']:>5}: {r['bpb']:.4f} bpb", file=sys.stderr)
