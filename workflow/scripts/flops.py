"""Rule flops: FLOPs per byte of every variant, in the ideal and the exact accounting."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from actsparse.checkpoint import load_model
from actsparse.flops import flops_rows
from actsparse.results import end_points
from actsparse.tables import read_table, write_table

cfg = snakemake.params.cfg
model, _ = load_model(snakemake.input.model)
points = [("dense", 0.0, 0.0)]
for stage in ("hard_swap", "relufy", "prune", "combined"):
    for v, r in end_points(read_table(snakemake.input[stage])).iterrows():
        ws = r.get("weight_sparsity")
        points.append((v, float(r.act_sparsity), 0.0 if ws is None or ws != ws else float(ws)))
write_table("flops", flops_rows(model.cfg, points), snakemake.output.table, cfg)
