"""Rule refuted_log: every approach tried, its numbers, its bar and the verdict."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

from actsparse.refuted import refuted_rows, render_markdown
from actsparse.tables import read_table, write_table

cfg = snakemake.params.cfg
tables = {k: read_table(v) for k, v in snakemake.input.items()}
rows = refuted_rows(tables, cfg["refuted_log"])
write_table("refuted", rows, snakemake.output.table, cfg)
Path(snakemake.output.md).write_text(render_markdown(rows, cfg["run_name"]))
