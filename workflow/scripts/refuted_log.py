"""Rule refuted_log: every approach tried, its numbers, its bar and the verdict."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/refuted_log.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("refuted_log", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

from actsparse.report.refuted import refuted_rows, render_markdown
from actsparse.report.tables import read_table, write_table

cfg = snakemake.params.cfg
tables = {k: read_table(v) for k, v in snakemake.input.items()}
rows = refuted_rows(tables, cfg["refuted_log"])
write_table("refuted", rows, snakemake.output.table, cfg)
Path(snakemake.output.md).write_text(render_markdown(rows, cfg["run_name"]))
