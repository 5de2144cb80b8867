"""Rule results_page: results/<run>/RESULTS.md, the headline figures and the claims ledger."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

from actsparse.claims import render_results_page
from actsparse.tables import read_table

cfg = snakemake.params.cfg
claims = read_table(snakemake.input.claims).to_dict("records")
for r in claims:  # Parquet hands lists back as arrays
    r["ours_series"] = None if r["ours_series"] is None else list(r["ours_series"])
page = render_results_page(claims, cfg["run_name"], snakemake.params.figures)
Path(snakemake.output.md).write_text(page)
