"""Rule stage2: RSB relufication stage 1 (the plain ReLU fine-tune, read from relufy_lam0)
beside stage 2 (also ReLU after the norms feeding QKV and the up projection, fine-tuned with
the same budget): input sparsity of QKV, up and down, FLOPs per byte, quality."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/stage2.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("stage2", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.core.checkpoint import load_model, save_model
from actsparse.core.config import config_hash
from actsparse.core.corpus import read_splits
from actsparse.core.train import RunContext, TrainConfig
from actsparse.methods.finetune import add_matched
from actsparse.methods.relufy import stage2_finetune, stage2_rows
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
tcfg = TrainConfig.for_stage(cfg, "relufy")
splits = read_splits(snakemake.input)
model, _ = load_model(snakemake.input.dense)
run = RunContext(snakemake.params.checkpoint, config_hash(cfg))
ce_dense, rows = stage2_finetune(model, splits, tcfg, run)
stage1, _ = load_model(snakemake.input.stage1)
windows = cfg["stage2"]["windows"]
rows = stage2_rows(model, stage1, rows, splits["val"], windows, tcfg, ce_dense)
rows = [
    {"activation": "relu", "lam": 0.0, **r}
    for r in add_matched(rows, snakemake.input.control, cfg["relufy"])
]
save_model(model, snakemake.output.model, {"variant": "stage2", "config_hash": run.run_id})
write_table("stage2", rows, snakemake.output.table, cfg)
