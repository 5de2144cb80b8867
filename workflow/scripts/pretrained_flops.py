"""Rule pretrained_flops: FLOPs per token of every pretrained variant's end point, in the
ideal and exact accountings of a gated FFN (metrics.flops), at the stages' window."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/pretrained_flops.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("pretrained_flops", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from transformers import AutoConfig

from actsparse.metrics.flops import Shape, flops_rows
from actsparse.pretrained.lm import family_of
from actsparse.pretrained.stages import flops_points
from actsparse.report.tables import read_table, write_table

cfg = snakemake.params.cfg
hf = AutoConfig.from_pretrained(snakemake.input.model)
shape = Shape.of_hf(hf, cfg["pretrained"]["context"], family_of(hf.model_type).gated)
print(shape, file=sys.stderr)
tables = {k: read_table(snakemake.input[k]) for k in ("quality", "relufy", "control")}
points = flops_points(tables["quality"], tables["relufy"], tables["control"])
model = tables["quality"]["model"].iloc[0]
rows = [{"model": model, **r} for r in flops_rows(shape, points)]
write_table("pretrained_flops", rows, snakemake.output.table, cfg)
