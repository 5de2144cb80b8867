"""Rule speculative: sparse vs standard speculative decoding and vs autoregressive decoding
from the relufied model's measured s_agg(gamma), by RSB's Theorems 1-2, per c and alpha."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/speculative.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("speculative", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.analysis.aggregated import prompt_active_sets, window_rows
from actsparse.analysis.speculative_theory import formula_rows
from actsparse.core.checkpoint import load_model
from actsparse.core.corpus import read_splits
from actsparse.metrics.flops import dense_flops
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
s = cfg["speculative"]
model, meta = load_model(snakemake.input.model)
val = read_splits(snakemake.input)["val"]
active = prompt_active_sets(model, val, cfg["aggregated"]["prompts"])
s_agg: dict[str, dict[int, float]] = {"observed": {}, "random": {}}
for r in window_rows(active, list(range(1, s["max_gamma"] + 1))):
    s_agg[r["kind"]][r["gamma"]] = r["s_agg"]
variant = meta.get("variant", "relufied")
dense = dense_flops(model.cfg)
rows = formula_rows(s_agg, s["cs"], s["alphas"], down_share=dense.ffn_down / dense.total)
rows = [{"variant": variant, **r} for r in rows]
write_table("speculative", rows, snakemake.output.table, cfg)
