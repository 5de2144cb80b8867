"""Rule relufy_frontier: every relufy end point against the compute-matched control, the
Pareto front, and the best pick the combined_best rule takes."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from actsparse.frontier import frontier_rows
from actsparse.schedules import relufy_schedules
from actsparse.tables import read_table, write_table

cfg = snakemake.params.cfg
rows = frontier_rows(
    read_table(snakemake.input.relufy),
    relufy_schedules(cfg["relufy"]),
    cfg["relufy"]["frontier_max_delta_ce_matched"],
)
write_table("relufy_frontier", rows, snakemake.output.table, cfg)
