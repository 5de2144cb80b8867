"""Rule dense_control: the dense GELU model fine-tuned with the relufy budget (no change),
the compute-matched control every fine-tune's `delta_ce_matched` is taken against."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/dense_control.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("dense_control", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.core.checkpoint import load_model, save_model
from actsparse.core.config import config_hash
from actsparse.core.corpus import read_splits
from actsparse.core.train import RunContext, TrainConfig
from actsparse.methods.finetune import finetune_after
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
tcfg = TrainConfig.for_stage(cfg, "relufy")
model, _ = load_model(snakemake.input.model)
splits = read_splits(snakemake.input)
run = RunContext(snakemake.params.checkpoint, config_hash(cfg))
_, rows = finetune_after(model, splits, tcfg, run=run)
save_model(
    model, snakemake.output.model, {"variant": "dense_control", "config_hash": config_hash(cfg)}
)
rows = [{"variant": "dense_control", "activation": "gelu", **r} for r in rows]
write_table("dense_control", rows, snakemake.output.table, cfg)
