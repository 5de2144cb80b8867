"""Rule scratch: a from-scratch control (GELU, ReLU, ReLU + L1) at the scratch budget."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.checkpoint import save_model
from actsparse.config import config_hash
from actsparse.corpus import read_splits
from actsparse.relufy import train_scratch
from actsparse.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
run_id = config_hash(cfg)
model, rows = train_scratch(
    cfg, cfg["variant"], read_splits(snakemake.input), snakemake.params.checkpoint, run_id
)
save_model(
    model, snakemake.output.model, {"variant": cfg["variant"]["name"], "config_hash": run_id}
)
write_table("scratch", rows, snakemake.output.part, cfg)
