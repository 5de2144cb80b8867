"""Rule activation_family: a model trained from scratch with x * sigmoid(beta x), one job
per beta (RSB Fig. 2): sparsity over training and the final ce."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/activation_family.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("activation_family", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.core.checkpoint import save_model
from actsparse.core.config import config_hash
from actsparse.core.corpus import read_splits
from actsparse.core.train import RunContext
from actsparse.methods.scratch import family_variant, train_scratch
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg, beta = snakemake.params.cfg, snakemake.params.beta
variant = family_variant(beta)
job = {**cfg, "beta": beta}
run = RunContext(snakemake.params.checkpoint, config_hash(job))
splits = read_splits(snakemake.input)
model, rows = train_scratch(job, variant, splits, run, section="activation_family")
save_model(model, snakemake.output.model, {"variant": variant["name"], "config_hash": run.run_id})
write_table("activation_family", rows, snakemake.output.part, job)
