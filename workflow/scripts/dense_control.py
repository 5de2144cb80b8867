"""Rule dense_control: the dense GELU model fine-tuned with the relufy budget (no change),
the compute-matched control every fine-tune's `delta_ce_matched` is taken against."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.checkpoint import load_model, save_model
from actsparse.config import config_hash
from actsparse.corpus import read_splits
from actsparse.finetune import finetune_after
from actsparse.tables import write_table
from actsparse.train import TrainConfig

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
tcfg = TrainConfig.for_stage(cfg, "relufy")
model, _ = load_model(snakemake.input.model)
splits = read_splits(snakemake.input)
_, rows = finetune_after(
    model, splits, tcfg, None, None, snakemake.params.checkpoint, config_hash(cfg)
)
save_model(
    model, snakemake.output.model, {"variant": "dense_control", "config_hash": config_hash(cfg)}
)
rows = [{"variant": "dense_control", "activation": "gelu", **r} for r in rows]
write_table("dense_control", rows, snakemake.output.table, cfg)
