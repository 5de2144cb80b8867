"""Rule naive_gating: zero GELU outputs below tau at inference; one job per tau."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/naive_gating.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("naive_gating", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.core.evaluate import load_for_eval
from actsparse.methods.retrofit import naive_gating_row
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg, tau = snakemake.params.cfg, snakemake.params.tau
model, val, starts = load_for_eval(
    snakemake.input.model, snakemake.input.val, cfg["train_dense"]["eval_windows"]
)
row = naive_gating_row(model, val, starts, tau, cfg["naive_gating"]["max_rel_ce"])
print(row, file=sys.stderr)
write_table("naive_gating", [row], snakemake.output.part, cfg)
