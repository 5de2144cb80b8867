"""Rule results_page: results/<run>/RESULTS.md, the headline figures and the claims ledger."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/results_page.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("results_page", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

from actsparse.report.results_page import claims_records, render_results_page
from actsparse.report.tables import read_table

cfg = snakemake.params.cfg
claims = claims_records(read_table(snakemake.input.claims))
page = render_results_page(claims, cfg["run_name"], snakemake.params.figures)
Path(snakemake.output.md).write_text(page)
