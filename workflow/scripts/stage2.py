"""Rule stage2: RSB relufication stage 1 (the plain ReLU fine-tune, read from relufy_lam0)
beside stage 2 (also ReLU after the norms feeding QKV and the up projection, fine-tuned with
the same budget): input sparsity of QKV, up and down, FLOPs per byte, quality."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.checkpoint import load_model, save_model
from actsparse.config import config_hash
from actsparse.corpus import read_splits
from actsparse.evaluate import window_starts
from actsparse.finetune import add_matched
from actsparse.relufication import stage2_finetune, stage_row
from actsparse.tables import write_table
from actsparse.train import TrainConfig

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
tcfg = TrainConfig.for_stage(cfg, "relufy")
splits = read_splits(snakemake.input)
val = splits["val"]
model, _ = load_model(snakemake.input.dense)
starts = list(window_starts(len(val), model.cfg.block_size, cfg["stage2"]["windows"]))
ce_dense, rows = stage2_finetune(model, splits, tcfg, snakemake.params.checkpoint, config_hash(cfg))
rows = [{"variant": "stage2", **r} for r in rows]
rows.append(
    {"variant": "stage2", "step": tcfg.steps, **stage_row(model, val, starts, tcfg, ce_dense)}
)
stage1, _ = load_model(snakemake.input.stage1)
rows.append(
    {"variant": "stage1", "step": tcfg.steps, **stage_row(stage1, val, starts, tcfg, ce_dense)}
)
rows = [
    {"activation": "relu", "lam": 0.0, **r}
    for r in add_matched(rows, snakemake.input.control, cfg["relufy"])
]
save_model(model, snakemake.output.model, {"variant": "stage2", "config_hash": config_hash(cfg)})
write_table("stage2", rows, snakemake.output.table, cfg)
