"""The pretrained stages on a second model family, in a run of their own: a file of its own,
so that under xdist it runs beside the smoke run (tests/test_workflow.py), not after it."""

import pandas as pd
import pytest

from tests.workflow_runs import repo_copy, snakemake

PRETRAINED_TABLES = [
    "quality",
    "zeroshot",
    "dense_stats",
    "relufy",
    "control",
    "cett",
    "flops",
    "inputs",
    "prune",
    "preact",
    "aggregated",
]


@pytest.mark.slow
def test_the_pretrained_stages_run_on_a_tiny_gpt2(tmp_path):
    """The GPT-2 family (GELU MLP, LayerNorm, learned positions) through every pretrained
    stage (Table 1, Table 4's pruning, Fig. 5 and 7 included): the smoke config with a tiny
    GPT-2 as the source, in a copy of its own."""
    work = repo_copy(tmp_path)
    cfg = (work / "config/smoke.yaml").read_text()
    old = "source: {kind: tiny, family: llama}"
    assert old in cfg and "run_name: smoke\n" in cfg
    cfg = cfg.replace(old, "source: {kind: tiny, family: gpt2}")
    cfg = cfg.replace("run_name: smoke\n", "run_name: smoke_gpt2\n")
    rsb = "variants: [stage2, drelu, shifted_relu]"
    assert rsb in cfg  # dReLU needs a gated FFN: GPT-2 runs the other two
    cfg = cfg.replace(rsb, "variants: [stage2, shifted_relu]")
    (tmp_path / "gpt2.yaml").write_text(cfg)
    targets = [f"results/smoke_gpt2/tables/pretrained_{t}.parquet" for t in PRETRAINED_TABLES]
    proc = snakemake(work, *targets, "--cores", "2", "--configfile", str(tmp_path / "gpt2.yaml"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    q = pd.read_parquet(work / targets[0]).set_index("variant")
    assert (q["model"] == "tiny:gpt2").all() and q.loc["dense", "activation"].startswith("gelu")
    assert q.loc["hard_swap", "act_sparsity"] > 0.2 and q.loc["dense", "act_sparsity"] < 0.01
    r = pd.read_parquet(work / targets[3])
    curve = r[r.row_type == "curve"]
    assert curve["delta_ce_matched"].notna().all() and (curve["act_sparsity"] > 0.2).all()
    z = pd.read_parquet(work / targets[1])
    assert {"control", "relufy_lam0", "hard_swap"} <= set(z["variant"])
    inputs = pd.read_parquet(work / targets[7]).set_index("variant")
    assert (
        inputs.loc["stage2", "qkv_in_sparsity"] > 0 and inputs.loc["dense", "qkv_in_sparsity"] == 0
    )
    prune = pd.read_parquet(work / targets[8])
    assert set(prune["variant"]) == {"prune_magnitude", "prune_wanda"}
    agg = pd.read_parquet(work / targets[10])
    unused = agg[(agg.kind == "observed") & (agg.t == 1)].groupby("variant").unused_frac.mean()
    assert unused["dense"] == 0 and unused["relufy_lam0"] > 0.2  # a GELU MLP has no zeros
