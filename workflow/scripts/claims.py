"""Rule claims: every seed claim (config/claims.yaml) beside our value and its verdict."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/claims.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("claims", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

from actsparse.report.claims import claims_rows, load_claims, render_markdown
from actsparse.report.tables import read_table, write_table

cfg = snakemake.params.cfg
tables = {Path(p).stem: read_table(p) for p in snakemake.input.tables}
rows = claims_rows(load_claims(snakemake.input.claims), tables)
write_table("claims", rows, snakemake.output.table, cfg)
Path(snakemake.output.md).write_text(render_markdown(rows, cfg["run_name"], "figures"))
