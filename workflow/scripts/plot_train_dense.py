"""Rule plot_train_dense: the training curve beside the compressors, from the Parquet alone."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from actsparse.plots import train_dense_curve
from actsparse.tables import read_table

train_dense_curve(
    read_table(snakemake.input.table),
    [snakemake.output.png, snakemake.output.pdf],
    dpi=snakemake.params.plots["dpi"],
)
