"""Rule gather_table: one stage table from its sweep parts (one part per wildcard job)."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from actsparse.tables import concat_tables

concat_tables(snakemake.input.parts, snakemake.output.table)
