"""Rule pretrained_inputs: RSB Table 1 for one pretrained variant (the dense model, its hard
swap, the control or a relufied model): the exact-zero share at the inputs of QKV, up and
down, FLOPs per token skipping the columns of zero inputs, and its quality on the eval
windows."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/pretrained_inputs.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("pretrained_inputs", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

import torch

from actsparse.pretrained import stages
from actsparse.report.tables import read_table, write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
p, variant = cfg["pretrained"], snakemake.wildcards.variant
lm = stages.load_variant(snakemake.input.model, variant, p["hard_swap_activation"])
ce_dense = stages.dense_ce(read_table(snakemake.input.dense))
val = stages.windows(lm, Path(snakemake.input.val).read_bytes(), p["context"], p["eval_windows"])
row = {"variant": variant, **stages.inputs_row(lm, val, ce_dense, p["batch_size"])}
print(row, file=sys.stderr)
write_table("pretrained_inputs", [row], snakemake.output.table, cfg)
