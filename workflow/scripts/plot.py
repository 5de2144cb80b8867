"""Rule plot: one figure, drawn from Parquet tables alone."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/plot.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("plot", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

from actsparse.report.figures import draw
from actsparse.report.tables import read_table

tables = {Path(p).stem: read_table(p) for p in snakemake.input.tables}
draw(
    snakemake.wildcards.figure,
    tables,
    [snakemake.output.png, snakemake.output.pdf],
    dpi=snakemake.params.plots["dpi"],
)
