"""Rule aggregated: the relufied model's aggregated sparsity per layer over the first t
bytes of val prompts, beside the random baseline s_i^t (RSB Fig. 7a,b)."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/aggregated.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("aggregated", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.analysis.aggregated import aggregated_rows, prompt_active_sets
from actsparse.core.checkpoint import load_model
from actsparse.core.corpus import read_splits
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
a = cfg["aggregated"]
model, meta = load_model(snakemake.input.model)
val = read_splits(snakemake.input)["val"]
active = prompt_active_sets(model, val, a["prompts"])
variant = meta.get("variant", "relufied")
rows = [{"variant": variant, **r} for r in aggregated_rows(active)]
write_table("aggregated", rows, snakemake.output.table, cfg)
