"""Rule shifted_relu: ReLU(x - b), b chosen from the dense model's pre-activations so that
the shift alone zeroes `target_sparsity` of them (RSB Sec. 5.3), fine-tuned like the plain
ReLU (no L1, the relufy budget); compare with relufy_lam0."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.checkpoint import load_model, save_model
from actsparse.config import config_hash
from actsparse.corpus import read_splits
from actsparse.evaluate import window_starts
from actsparse.finetune import add_matched
from actsparse.preact import preactivations, quantile_shift
from actsparse.relufication import shifted_finetune
from actsparse.tables import write_table
from actsparse.train import TrainConfig

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
sr = cfg["shifted_relu"]
splits = read_splits(snakemake.input)
model, _ = load_model(snakemake.input.dense)
starts = list(window_starts(len(splits["val"]), model.cfg.block_size, sr["windows"]))
shift = quantile_shift(preactivations(model, splits["val"], starts), sr["target_sparsity"])
_, rows = shifted_finetune(
    model,
    splits,
    TrainConfig.for_stage(cfg, "relufy"),
    shift,
    snakemake.params.checkpoint,
    config_hash(cfg),
)
rows = add_matched(rows, snakemake.input.control, cfg["relufy"])
base = {"variant": "shifted_relu", "activation": "shifted_relu", "lam": 0.0, "shift": shift}
save_model(
    model, snakemake.output.model, {"variant": "shifted_relu", "config_hash": config_hash(cfg)}
)
write_table("shifted_relu", [{**base, **r} for r in rows], snakemake.output.table, cfg)
