"""Two runs' tables compared in every deterministic column: what "the same numbers" means
when a change must not move any result (a refactor, a move to a cluster). Wall-clock
columns differ between any two runs and are left out; so are the whole timed tables'
measurements, keeping their configuration columns (which kernel, shape, sparsity, what
ran), and the claims that quote a timed table.

    python -m actsparse.report.compare results/default/tables /tmp/fresh/results/default/tables
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

# Columns that hold wall-clock measurements in any table.
TIMINGS = {"bytes_per_s", "train_bytes_per_s", "wall_s"}
# Tables of timings: only their configuration columns are deterministic.
TIMED_TABLES = {"kernels", "decode", "speculative_decode"}
CONFIGURATION = {
    "run_name",
    "config_hash",
    "seed",
    "variant",
    "kernel",
    "pattern",
    "model",
    "strategy",
    "path",
    "kind",
    "source",
    "gamma",
    "d_model",
    "d_ffn",
    "n_layer",
    "threads",
    "batch",
    "sparsity",
    "density",
    "weight_sparsity",
    "n_new",
    "ideal_speedup",
    "act_sparsity",
    "up_rows_computed",
    "s_agg",
    "alpha",
    "accepted_per_round",
    "greedy_identical",
}


def deterministic(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """The rows and columns of a stage table that two runs of the same code must share."""
    if table == "claims":  # a claim quoting a timed table is itself timed
        df = df[~df.source_table.isin(TIMED_TABLES)].reset_index(drop=True)
    keep = [
        c
        for c in df.columns
        if c not in TIMINGS and (table not in TIMED_TABLES or c in CONFIGURATION)
    ]
    return df[keep]


def compare_runs(a: Path, b: Path) -> dict[str, str | None]:
    """Per table of run a: None where run b's equals it exactly, else what differs."""
    out: dict[str, str | None] = {}
    for path in sorted(Path(a).glob("*.parquet")):
        other = Path(b) / path.name
        if not other.exists():
            out[path.stem] = "missing in the second run"
            continue
        x = deterministic(path.stem, pd.read_parquet(path))
        y = deterministic(path.stem, pd.read_parquet(other))
        try:
            pd.testing.assert_frame_equal(x, y, check_exact=True, obj=path.stem)
            out[path.stem] = None
        except AssertionError as e:
            out[path.stem] = str(e).strip().splitlines()[0]
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    result = compare_runs(Path(argv[0]), Path(argv[1]))
    for table, diff in result.items():
        print(f"equal    {table}" if diff is None else f"DIFFERS  {table}: {diff}")
    bad = sum(d is not None for d in result.values())
    print(f"{len(result) - bad} of {len(result)} tables equal in every deterministic column")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
