"""Rule scratch: a from-scratch control (GELU, ReLU, ReLU + L1) at the scratch budget."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/scratch.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("scratch", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.core.checkpoint import save_model
from actsparse.core.config import config_hash
from actsparse.core.corpus import read_splits
from actsparse.core.train import RunContext
from actsparse.methods.scratch import train_scratch
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
run = RunContext(snakemake.params.checkpoint, config_hash(cfg))
model, rows = train_scratch(cfg, cfg["variant"], read_splits(snakemake.input), run)
meta = {"variant": cfg["variant"]["name"], "config_hash": run.run_id}
save_model(model, snakemake.output.model, meta)
write_table("scratch", rows, snakemake.output.part, cfg)
