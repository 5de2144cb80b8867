"""The workflow in checkouts of its own, beside the shared smoke run of test_workflow.py:
the pretrained stages on a tiny GPT-2, and the byte chain through a real SLURM cluster. They
need nothing of that run, so under xdist (make test) they run on the other worker while it
does."""

import os
import shutil
import subprocess
import warnings
from pathlib import Path

import pandas as pd
import pytest

from actsparse.report.compare import compare_runs
from tests.slurm_cluster import ClusterUnavailable, local_slurm
from tests.test_workflow import BIN, IGNORE, REPO, snakemake


def checkout(where: Path) -> Path:
    work = where / "actsparse"
    shutil.copytree(REPO, work, ignore=IGNORE)
    return work


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
    GPT-2 as the source, in a run and a checkout of its own."""
    work = checkout(tmp_path)
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


# The jobs the SLURM test sends through sbatch: the byte model's chain from the corpus through
# training (on the fake GPU gres) to the training-free stages. Every rule goes through the same
# executor, so the whole workflow would test nothing more about SLURM; it took 16 of CI's 39
# minutes when it ran everything.
SLURM_TABLES = ["corpus", "train_dense", "dense_stats", "naive_gating", "hard_swap"]


@pytest.mark.slow
def test_smoke_workflow_runs_on_a_real_slurm_cluster(tmp_path):
    """The same jobs run locally, in a checkout of their own, are the reference: every table
    the cluster wrote must equal it exactly."""
    work = checkout(tmp_path / "cluster")
    try:
        cluster = local_slurm(tmp_path / "slurm")
        env = cluster.__enter__()
    except ClusterUnavailable as e:
        warnings.warn(f"SLURM TEST SKIPPED: {e}", stacklevel=1)
        pytest.skip(f"SLURM TEST SKIPPED (no apt or daemons here): {e}")
    try:
        env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
        args = [
            *(f"results/smoke/tables/{t}.parquet" for t in SLURM_TABLES),
            *("--workflow-profile", "workflow/profiles/slurm"),
            *("--configfile", "config/smoke.yaml"),
            "--slurm-no-account",  # no accounting daemon on this one-node cluster
            *("--slurm-init-seconds-before-status-checks", "1"),
            *("--set-resources", "train_dense:gpu=1"),  # scheduled on the fake GPU gres
        ]
        proc = subprocess.run(
            [str(BIN / "snakemake"), *args], cwd=work, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        assert "SLURM jobid" in proc.stdout + proc.stderr  # jobs went through sbatch
        assert (
            "--gpus"
            in " ".join(p.read_text() for p in (work / ".snakemake/slurm_logs").rglob("*.log"))
            or "gpu=1" in proc.stdout + proc.stderr
        )
    finally:
        cluster.__exit__(None, None, None)
    local = checkout(tmp_path / "local")
    targets = [f"results/smoke/tables/{t}.parquet" for t in SLURM_TABLES]
    proc = snakemake(local, *targets, "--cores", "2", "--configfile", "config/smoke.yaml")
    assert proc.returncode == 0, proc.stderr[-4000:]
    tables = "results/smoke/tables"
    differences = compare_runs(work / tables, local / tables)
    assert set(differences) == set(SLURM_TABLES), differences
    assert not {t: d for t, d in differences.items() if d is not None}
