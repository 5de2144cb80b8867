"""Rule reuse: perplexity after a prompt when alternate gamma-byte windows may only use the
previous window's active neurons, against a random set of the same size (RSB Fig. 7c)."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/reuse.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("reuse", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.analysis.reuse import reuse_rows
from actsparse.core.checkpoint import load_model
from actsparse.core.corpus import read_splits
from actsparse.core.evaluate import window_starts
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
r = cfg["reuse"]
model, meta = load_model(snakemake.input.model)
val = read_splits(snakemake.input)["val"]
starts = list(window_starts(len(val), model.cfg.block_size, r["prompts"]))
rows = reuse_rows(model, val, starts, r["prompt_bytes"], r["gammas"], cfg["seed"])
variant = meta.get("variant", "relufied")
write_table("reuse", [{"variant": variant, **x} for x in rows], snakemake.output.table, cfg)
