import pytest

from actsparse.core.config import config_hash
from actsparse.report.tables import TableError, read_table, table_params, write_table

CFG = {"run_name": "t", "seed": 3, "model": {"n_embd": 8}}


def test_every_row_carries_its_provenance(tmp_path):
    p = tmp_path / "x.parquet"
    write_table("train_dense", [{"variant": "dense", "row_type": "eval", "ce": 1.0}], p, CFG)
    df = read_table(p)
    row = df.iloc[0]
    assert (row.run_name, row.seed, row.config_hash) == ("t", 3, config_hash(CFG))
    assert table_params(p) == CFG


def test_unknown_column_is_rejected(tmp_path):
    with pytest.raises(TableError, match="no column"):
        write_table("train_dense", [{"variant": "d", "cee": 1.0}], tmp_path / "x.parquet", CFG)


def test_unknown_table_is_rejected(tmp_path):
    with pytest.raises(TableError, match="no schema"):
        write_table("nope", [], tmp_path / "x.parquet", CFG)


def test_compare_runs_ignores_timings_and_finds_a_changed_number(tmp_path):
    from actsparse.report.compare import compare_runs
    from actsparse.report.tables import write_table

    cfg = {"run_name": "t", "seed": 0}
    row = dict(variant="dense", row_type="eval", split="val", ce=1.5, wall_s=3.0)
    for run, changes in (("a", {}), ("b", {"wall_s": 9.0}), ("c", {"ce": 1.5000001})):
        write_table(
            "train_dense", [{**row, **changes}], tmp_path / run / "train_dense.parquet", cfg
        )
    assert compare_runs(tmp_path / "a", tmp_path / "b") == {"train_dense": None}
    assert compare_runs(tmp_path / "a", tmp_path / "c")["train_dense"] is not None


def test_no_schema_repeats_a_column():
    """A column named twice (one already in the row stamp) writes, then breaks every reader
    of the gathered table."""
    from actsparse.report.tables import SCHEMAS

    for name, schema in SCHEMAS.items():
        assert len(schema.names) == len(set(schema.names)), name
