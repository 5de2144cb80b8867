"""Rule activation_family: a model trained from scratch with x * sigmoid(beta x), one job
per beta (RSB Fig. 2): sparsity over training and the final ce."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.checkpoint import save_model
from actsparse.config import config_hash
from actsparse.corpus import read_splits
from actsparse.relufy import train_scratch
from actsparse.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg, beta = snakemake.params.cfg, snakemake.params.beta
variant = {"name": f"beta{beta:g}", "activation": "xsigmoid", "beta": beta}
job = {**cfg, "beta": beta}
model, rows = train_scratch(
    job,
    variant,
    read_splits(snakemake.input),
    snakemake.params.checkpoint,
    config_hash(job),
    section="activation_family",
)
save_model(
    model, snakemake.output.model, {"variant": variant["name"], "config_hash": config_hash(job)}
)
write_table("activation_family", rows, snakemake.output.part, job)
