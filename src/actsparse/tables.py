"""Parquet tables: every schema defined here, once.

Tables are the interface between stages and plots. Each row carries `run_name`,
`config_hash` and `seed`, and the file's metadata holds the full config subset the
stage ran with, so any number can be traced back to the knobs that produced it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from actsparse.config import config_hash

PROVENANCE = [
    pa.field("run_name", pa.string(), nullable=False),
    pa.field("config_hash", pa.string(), nullable=False),
    pa.field("seed", pa.int64(), nullable=False),
    pa.field("variant", pa.string(), nullable=False),
]

SCHEMAS: dict[str, pa.Schema] = {
    # One row per split of the corpus.
    "corpus": pa.schema(
        PROVENANCE
        + [
            pa.field("source", pa.string()),
            pa.field("origin", pa.string()),
            pa.field("sha256", pa.string()),  # of the whole corpus
            pa.field("total_bytes", pa.int64()),
            pa.field("split", pa.string()),
            pa.field("split_bytes", pa.int64()),
            pa.field("split_sha256", pa.string()),
        ]
    ),
    # row_type: "curve" (one per evaluation during training, split=val), "eval" (final
    # model on val and test), "reference" (a real compressor on the test split).
    "train_dense": pa.schema(
        PROVENANCE
        + [
            pa.field("row_type", pa.string()),
            pa.field("split", pa.string()),
            pa.field("step", pa.int64()),
            pa.field("ce", pa.float64()),
            pa.field("bpb", pa.float64()),
            pa.field("train_ce", pa.float64()),
            pa.field("lr", pa.float64()),
            pa.field("act_sparsity", pa.float64()),
            pa.field("n_bytes", pa.int64()),
            pa.field("bytes_per_s", pa.float64()),  # eval rows: inference; reference: compression
            pa.field("train_bytes_per_s", pa.float64()),
            pa.field("wall_s", pa.float64()),
            pa.field("compressed_bytes", pa.int64()),
        ]
    ),
}


class TableError(ValueError):
    """Rows do not fit the table's schema."""


def write_table(
    name: str, rows: Sequence[Mapping[str, Any]], path: str | Path, cfg: Mapping[str, Any]
) -> pa.Table:
    """Write rows (dicts) to Parquet under the named schema, stamped with their provenance.

    cfg is the config subset the stage ran with; it must hold run_name and seed. Its hash
    goes on every row, the whole subset into the file's metadata. Unknown columns are an error.
    """
    if name not in SCHEMAS:
        raise TableError(f"no schema for table {name!r}; known: {sorted(SCHEMAS)}")
    schema = SCHEMAS[name]
    extra = {k for r in rows for k in r} - set(schema.names)
    if extra:
        raise TableError(f"table {name!r} has no column(s) {sorted(extra)}")
    stamp = {"run_name": cfg["run_name"], "config_hash": config_hash(cfg), "seed": cfg["seed"]}
    meta = {
        "actsparse.table": name,
        "actsparse.params": json.dumps(cfg, sort_keys=True, default=str),
    }
    table = pa.Table.from_pylist([{**stamp, **r} for r in rows], schema=schema.with_metadata(meta))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return table


def read_table(path: str | Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def table_params(path: str | Path) -> dict[str, Any]:
    """The config subset recorded in a table's metadata."""
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(b"actsparse.params", b"{}"))
