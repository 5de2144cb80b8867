"""Rule corpus: fetch and verify the configured source, split it 90/5/5 contiguously."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/corpus.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("corpus", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from actsparse.core.corpus import load_corpus, sha256_hex, split_corpus
from actsparse.report.tables import write_table

cfg = snakemake.params.cfg
corpus = load_corpus(cfg["data"])
splits = split_corpus(corpus.data, tuple(cfg["data"]["split"]), snakemake.params.context + 1)
rows = []
for name, arr in splits.items():
    arr.tofile(snakemake.output[name])
    rows.append(
        {
            "variant": corpus.source,
            "source": corpus.source,
            "origin": corpus.origin,
            "sha256": corpus.sha256,
            "total_bytes": len(corpus.data),
            "split": name,
            "split_bytes": len(arr),
            "split_sha256": sha256_hex(arr.tobytes()),
        }
    )
    print(f"{name}: {len(arr):,} bytes", file=sys.stderr)
write_table("corpus", rows, snakemake.output.table, cfg)
