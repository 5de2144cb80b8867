"""Rule flops: FLOPs per byte of every variant, in the ideal and the exact accounting."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/flops.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("flops", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from actsparse.core.checkpoint import load_model
from actsparse.metrics.flops import flops_rows
from actsparse.report.tables import end_points, read_table, write_table

cfg = snakemake.params.cfg
model, _ = load_model(snakemake.input.model)
points = [("dense", 0.0, 0.0)]
for stage in ("hard_swap", "relufy", "prune", "combined"):
    for v, r in end_points(read_table(snakemake.input[stage])).iterrows():
        ws = r.get("weight_sparsity")
        points.append((v, float(r.act_sparsity), 0.0 if ws is None or ws != ws else float(ws)))
write_table("flops", flops_rows(model.cfg, points), snakemake.output.table, cfg)
