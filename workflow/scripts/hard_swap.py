"""Rule hard_swap: GELU -> ReLU on the trained model, no retraining."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/hard_swap.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("hard_swap", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.core.evaluate import load_for_eval
from actsparse.methods.retrofit import hard_swap_rows
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
model, val, starts = load_for_eval(
    snakemake.input.model, snakemake.input.val, cfg["train_dense"]["eval_windows"]
)
rows = hard_swap_rows(model, val, starts, cfg["hard_swap"]["activation"])
print(rows[0], file=sys.stderr)
write_table("hard_swap", rows, snakemake.output.table, cfg)
