"""Rule shifted_relu: ReLU(x - b), b chosen from the dense model's pre-activations so that
the shift alone zeroes `target_sparsity` of them (RSB Sec. 5.3), fine-tuned like the plain
ReLU (no L1, the relufy budget); compare with relufy_lam0."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/shifted_relu.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("shifted_relu", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.analysis.preact import preactivations, quantile_shift
from actsparse.core.checkpoint import load_model, save_model
from actsparse.core.config import config_hash
from actsparse.core.corpus import read_splits
from actsparse.core.evaluate import window_starts
from actsparse.core.train import RunContext, TrainConfig
from actsparse.methods.finetune import add_matched
from actsparse.methods.relufy import shifted_finetune
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
sr = cfg["shifted_relu"]
splits = read_splits(snakemake.input)
model, _ = load_model(snakemake.input.dense)
starts = list(window_starts(len(splits["val"]), model.cfg.block_size, sr["windows"]))
shift = quantile_shift(preactivations(model, splits["val"], starts), sr["target_sparsity"])
run = RunContext(snakemake.params.checkpoint, config_hash(cfg))
_, rows = shifted_finetune(model, splits, TrainConfig.for_stage(cfg, "relufy"), shift, run)
rows = add_matched(rows, snakemake.input.control, cfg["relufy"])
base = {"variant": "shifted_relu", "activation": "shifted_relu", "lam": 0.0, "shift": shift}
save_model(model, snakemake.output.model, {"variant": "shifted_relu", "config_hash": run.run_id})
write_table("shifted_relu", [{**base, **r} for r in rows], snakemake.output.table, cfg)
