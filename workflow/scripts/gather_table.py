"""Rule gather_table: one stage table from its sweep parts (one part per wildcard job)."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/gather_table.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("gather_table", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from actsparse.report.tables import concat_tables

concat_tables(snakemake.input.parts, snakemake.output.table)
