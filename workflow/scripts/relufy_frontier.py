"""Rule relufy_frontier: every relufy end point against the compute-matched control, the
Pareto front, and the best pick the combined_best rule takes."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/relufy_frontier.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("relufy_frontier", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from actsparse.methods.frontier import frontier_rows
from actsparse.methods.schedules import relufy_schedules
from actsparse.report.tables import read_table, write_table

cfg = snakemake.params.cfg
rows = frontier_rows(
    read_table(snakemake.input.relufy),
    relufy_schedules(cfg["relufy"]),
    cfg["relufy"]["frontier_max_delta_ce_matched"],
)
write_table("relufy_frontier", rows, snakemake.output.table, cfg)
