"""Rule plot: one figure, drawn from Parquet tables alone."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

from actsparse.plots import draw
from actsparse.tables import read_table

tables = {Path(p).stem: read_table(p) for p in snakemake.input.tables}
draw(
    snakemake.wildcards.figure,
    tables,
    [snakemake.output.png, snakemake.output.pdf],
    dpi=snakemake.params.plots["dpi"],
)
