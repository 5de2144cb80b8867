"""The workflow end to end: the smoke run in a temporary copy, what it wrote, and what a
change to its config or code makes it rerun (dry runs on the finished copy). The GPT-2
family's run, and the plan and lint checks that need no run, are in test_workflow_*.py."""

import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from actsparse.core.code_digest import module_closure
from actsparse.report.claims import VERDICTS
from actsparse.report.compare import compare_runs
from tests.slurm_cluster import ClusterUnavailable, local_slurm
from tests.workflow_runs import BIN, planned_jobs, repo_copy, snakemake


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    work = repo_copy(tmp_path_factory.mktemp("wf"))
    proc = snakemake(work, "--cores", "2", "--configfile", "config/smoke.yaml")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return work


@pytest.mark.slow
def test_smoke_run_writes_the_train_dense_table_with_provenance(smoke_run):
    df = pd.read_parquet(smoke_run / "results/smoke/tables/train_dense.parquet")
    for col in ("variant", "run_name", "config_hash", "seed"):
        assert df[col].notna().all(), col
    assert set(df.row_type) == {"curve", "eval", "reference"}
    assert set(df[df.row_type == "reference"].variant) == {"gzip-9", "bzip2-9", "xz-9e"}
    assert set(df[df.row_type == "eval"].split) == {"val", "test"}
    assert (df.run_name == "smoke").all()


@pytest.mark.slow
def test_smoke_run_writes_the_corpus_table_and_splits(smoke_run):
    res = smoke_run / "results/smoke"
    corpus = pd.read_parquet(res / "tables/corpus.parquet").set_index("split")
    assert (
        corpus.sha256 == "34c1c63050c87cc8477b9ae36b1cb0edf372612c92938b742e579a7109c20fa4"
    ).all()
    for split in ("train", "val", "test"):
        assert (res / f"data/{split}.bin").stat().st_size == corpus.loc[split, "split_bytes"]
    assert corpus.split_bytes.sum() == 6_089_746


STAGE_TABLES = [
    "corpus",
    "train_dense",
    "dense_stats",
    "naive_gating",
    "hard_swap",
    "dense_control",
    "relufy",
    "relufy_frontier",
    "scratch",
    "prune",
    "combined",
    "flops",
    "kernels",
    "decode",
    "refuted",
    "aggregated",
    "speculative",
    "speculative_decode",
    "preact",
    "activation_family",
    "stage2",
    "shifted_relu",
    "reuse",
    "pretrained_dense_stats",
    "pretrained_quality",
    "pretrained_zeroshot",
    "pretrained_control",
    "pretrained_relufy",
    "pretrained_cett",
    "pretrained_rsb",
    "pretrained_flops",
    "pretrained_inputs",
    "pretrained_prune",
    "pretrained_preact",
    "pretrained_aggregated",
    "cett",
]
FIGURES = [
    "train_dense_curve",
    "dense_energy",
    "gating_sweep",
    "hard_swap",
    "relufy_trajectory",
    "relufy_pareto",
    "relufy_frontier",
    "layer_sparsity",
    "prune_recovery",
    "combined_summary",
    "kernel_latency",
    "aggregated",
    "speculative",
    "speculative_decode",
    "preact",
    "activation_family",
    "stage2",
    "shifted_relu",
    "reuse",
    "cett",
    "pretrained_cett",
    "pretrained_analysis",
    "pretrained_decode",
]


RSB = ("stage2", "drelu", "shifted_relu")


@pytest.mark.slow
@pytest.mark.parametrize("table", STAGE_TABLES)
def test_smoke_run_writes_every_stage_table_with_provenance(smoke_run, table):
    df = pd.read_parquet(smoke_run / f"results/smoke/tables/{table}.parquet")
    assert len(df) > 0
    for col in ("variant", "run_name", "config_hash", "seed"):
        assert df[col].notna().all(), col


@pytest.mark.slow
@pytest.mark.parametrize("table", ["relufy", "prune", "combined"])
def test_every_finetune_curve_has_a_matched_delta(smoke_run, table):
    df = pd.read_parquet(smoke_run / f"results/smoke/tables/{table}.parquet")
    assert df[df.row_type == "curve"].delta_ce_matched.notna().all()


@pytest.mark.slow
def test_the_pretrained_stages_run_on_the_tiny_llama(smoke_run):
    """Every training-free method on the tiny stand-in, on the bpb axis, scored zero-shot:
    the thresholds zero about their target share, the hard swap puts exact zeros where
    the SiLU model has none."""
    q = pd.read_parquet(smoke_run / "results/smoke/tables/pretrained_quality.parquet")
    q = q.set_index("variant")
    assert set(q.index) == {"dense", "thresholds:s0.5", "thresholds:s0.9", "hard_swap"}
    assert (q["model"] == "tiny:llama").all() and (q["bpb"] > 0).all()
    assert q.loc["dense", "act_sparsity"] == 0.0 and q.loc["dense", "delta_ce"] == 0.0
    for s in (0.5, 0.9):
        assert abs(q.loc[f"thresholds:s{s}", "act_sparsity"] - s) < 0.05
    assert q.loc["hard_swap", "activation"] == "relu" and q.loc["hard_swap", "act_sparsity"] > 0.2
    z = pd.read_parquet(smoke_run / "results/smoke/tables/pretrained_zeroshot.parquet")
    pruned = {"prune_magnitude", "prune_wanda"}
    variants = {*q.index, "control", "relufy_lam0", "relufy_linear1", *RSB, *pruned}
    # two tasks and their mean per variant
    assert set(z["variant"]) == variants and len(z) == len(variants) * 3
    tasks = z[z.task != "mean"]
    assert (tasks["n"] == 4).all() and (z.loc[z.task == "mean", "n"] == 8).all()
    assert ((z["acc"] >= 0) & (z["acc"] <= 1)).all() and (z["chance"] == 1 / 3).all()
    # relufication with the byte model's recipe: a trajectory, a matched delta, bpb
    r = pd.read_parquet(smoke_run / "results/smoke/tables/pretrained_relufy.parquet")
    c = pd.read_parquet(smoke_run / "results/smoke/tables/pretrained_control.parquet")
    assert set(r["variant"]) >= {"relufy_lam0", "relufy_linear1", "relufy_lam0_fat0.05"}
    curve = r[r.row_type == "curve"]
    assert curve["delta_ce_matched"].notna().all() and (curve["bpb"] > 0).all()
    assert (curve["act_sparsity"] > 0.2).all()  # a ReLU gate: exact zeros
    # one end point per plain variant (its last step) and every FATReLU row
    ends = r[r.end_point]
    assert set(ends.loc[ends.row_type == "curve", "variant"]) == {"relufy_lam0", "relufy_linear1"}
    assert ends.groupby("variant").size().eq(1).all()
    assert (ends.loc[ends.row_type == "curve", "step"] == 4).all()
    assert (c["activation"] == "silu").all() and (
        c.loc[c.row_type == "curve", "act_sparsity"] == 0
    ).all()


@pytest.mark.slow
def test_cett_puts_every_byte_variant_on_one_axis(smoke_run):
    """The byte model's variants at PPL + 1% and + 5%: the GELU model has no exact zeros,
    every ReLU variant has its own; a larger rise never gives fewer inactive neurons."""
    df = pd.read_parquet(smoke_run / "results/smoke/tables/cett.parquet")
    # the relufied models as their files are named (relufy_lam<lam as the config holds it>)
    stage1 = ["relufy_lam0.0", "relufy_lam1.0", "relufy_sched_linear2"]
    fat = [f"{v}_fat0.05" for v in stage1]  # the smoke config's FATReLU threshold
    expect = {"dense", "hard_swap", *stage1, *fat, "stage2", "shifted_relu"}
    assert set(df["variant"]) == expect and len(df) == 20
    at = df.set_index(["variant", "rise"])
    assert (at.loc["dense", "exact_sparsity"] == 0).all()
    assert (at.loc["relufy_lam1.0", "exact_sparsity"] > 0.2).all()
    for v, f in zip(stage1, fat, strict=True):  # FATReLU zeroes what ReLU does, and more
        assert (at.loc[f, "exact_sparsity"] > at.loc[v, "exact_sparsity"]).all()
    assert (df["act_sparsity"] >= df["exact_sparsity"]).all()
    for v in set(df["variant"]):
        assert at.loc[(v, 0.05), "act_sparsity"] >= at.loc[(v, 0.01), "act_sparsity"]
    ok = df[df["within"]]
    assert (ok["delta_ce"] <= np.log1p(ok["rise"]) + 1e-12).all()


@pytest.mark.slow
def test_cett_puts_every_pretrained_variant_on_one_axis(smoke_run):
    """CETT-PPL-p% per variant and rise: the SiLU model starts from no exact zeros, a ReLU
    gate from its own; truncation only adds inactive neurons, a larger rise never fewer;
    a row within its budget costs at most ln(1 + rise)."""
    df = pd.read_parquet(smoke_run / "results/smoke/tables/pretrained_cett.parquet")
    stage1 = ["relufy_lam0", "relufy_linear1"]
    fat = [f"{v}_fat0.05" for v in stage1]  # the smoke config's FATReLU threshold
    assert set(df["variant"]) == {"dense", "hard_swap", *stage1, *fat, *RSB}
    assert sorted(set(df["rise"])) == [0.01, 0.05] and len(df) == 18
    at = df.set_index(["variant", "rise"])
    assert (at.loc["dense", "exact_sparsity"] == 0).all()
    assert (at.loc["relufy_lam0", "exact_sparsity"] > 0.2).all()
    for v, f in zip(stage1, fat, strict=True):  # FATReLU zeroes what ReLU does, and more
        assert (at.loc[f, "exact_sparsity"] > at.loc[v, "exact_sparsity"]).all()
    assert (df["act_sparsity"] >= df["exact_sparsity"]).all()
    for v in set(df["variant"]):
        assert at.loc[(v, 0.05), "act_sparsity"] >= at.loc[(v, 0.01), "act_sparsity"]
    ok = df[df["within"]]
    assert len(ok) and (ok["delta_ce"] <= np.log1p(ok["rise"]) + 1e-12).all()
    assert (df["reference_ce"] == df["reference_ce"].iloc[0]).all() and (df["scored"] >= 2).all()


@pytest.mark.slow
def test_pretrained_flops_count_the_gate_densely_on_the_exact_path(smoke_run):
    df = pd.read_parquet(smoke_run / "results/smoke/tables/pretrained_flops.parquet")
    at = df.set_index(["variant", "accounting"])
    assert {"dense", "hard_swap", "relufy_lam0", "control"} <= set(df["variant"])
    dense = at.loc[("dense", "exact")]
    assert dense["ffn_gate_flops"] == dense["ffn_up_flops"] == dense["ffn_down_flops"] > 0
    for v in ("hard_swap", "relufy_lam0"):
        exact, ideal = at.loc[(v, "exact")], at.loc[(v, "ideal")]
        assert exact["ffn_gate_flops"] == dense["ffn_gate_flops"]  # computed to know
        assert exact["ffn_up_flops"] < dense["ffn_up_flops"]  # skipped after the gate
        assert ideal["ffn_flops"] < exact["ffn_flops"] < dense["ffn_flops"]


@pytest.mark.slow
def test_table1_measures_the_inputs_of_every_pretrained_variant(smoke_run):
    df = pd.read_parquet(smoke_run / "results/smoke/tables/pretrained_inputs.parquet")
    df = df.set_index("variant")
    relufied = ["relufy_lam0", "relufy_linear1", *RSB]
    assert set(df.index) == {"dense", "hard_swap", "control", *relufied}
    relu_after_norms = df.index == "stage2"
    assert (df.loc[relu_after_norms, ["qkv_in_sparsity", "up_in_sparsity"]] > 0).all().all()
    assert (df.loc[~relu_after_norms, ["qkv_in_sparsity", "up_in_sparsity"]] == 0).all().all()
    assert (df.loc[["dense", "control"], "down_in_sparsity"] < 0.01).all()
    assert (df.loc[["hard_swap", *relufied], "down_in_sparsity"] > 0.2).all()
    assert (df.loc[["hard_swap", *relufied], "flops_frac_of_dense"] < 1).all()
    assert df.loc["dense", "delta_ce"] == pytest.approx(0, abs=1e-6)


@pytest.mark.slow
def test_fig5_and_fig7_on_every_pretrained_variant(smoke_run):
    """The gate's pre-activation densities and aggregated sparsity for the Table 1 variants;
    a SiLU variant never leaves a neuron unused, a ReLU one does; the claims read both."""
    tables = smoke_run / "results/smoke/tables"
    pre = pd.read_parquet(tables / "pretrained_preact.parquet")
    agg = pd.read_parquet(tables / "pretrained_aggregated.parquet")
    relufied = ["relufy_lam0", "relufy_linear1", *RSB]
    variants = {"dense", "hard_swap", "control", *relufied}
    assert set(pre["variant"]) == set(agg["variant"]) == variants
    assert pre.groupby(["variant", "layer"]).size().eq(16).all()  # smoke: 16 bins
    first = agg[(agg.kind == "observed") & (agg.t == 1)].groupby("variant").unused_frac.mean()
    assert (first[["dense", "control"]] == 0).all()
    assert (first[["hard_swap", *relufied]] > 0.2).all()
    claims = pd.read_parquet(tables / "claims.parquet").set_index("variant")
    for claim in ("rsb-preact-shape-kept", "rsb-aggregated-half"):
        assert claims.loc[claim, "verdict_pretrained"] in VERDICTS


@pytest.mark.slow
def test_pruning_at_the_relufied_models_ffn_flops_recovers_like_it(smoke_run):
    """RSB Table 4: magnitude and Wanda at the weight sparsity that costs what relufy_lam0's
    FFN does on the exact path, held through the same budget against the same control."""
    tables = smoke_run / "results/smoke/tables"
    df = pd.read_parquet(tables / "pretrained_prune.parquet")
    flops = pd.read_parquet(tables / "pretrained_flops.parquet")
    lam0 = flops[(flops.variant == "relufy_lam0") & (flops.accounting == "exact")]
    assert set(df["variant"]) == {"prune_magnitude", "prune_wanda"}
    assert np.allclose(df["ratio"], 1 - lam0["ffn_frac_of_dense"].iloc[0])
    assert np.allclose(df["weight_sparsity"], df["ratio"], atol=0.01)
    curve = df[df.row_type == "curve"]
    assert curve["delta_ce_matched"].notna().all() and (curve["bpb"] > 0).all()
    assert df[df.end_point].groupby("variant").size().eq(1).all()
    z = pd.read_parquet(tables / "pretrained_zeroshot.parquet")
    assert {"prune_magnitude", "prune_wanda"} <= set(z["variant"])
    claims = pd.read_parquet(tables / "claims.parquet").set_index("variant")  # the claim id
    judged = claims.loc["rsb-relufied-beats-pruning", "verdict_pretrained"]
    assert judged in VERDICTS and judged not in ("no data", "not run")  # the query resolved


@pytest.mark.slow
def test_rsb_variants_of_the_pretrained_model_run_against_the_same_control(smoke_run):
    """Stage 2, dReLU and shifted ReLU fine-tuned from the dense tiny Llama with the stage-1
    budget: exact zeros from step 0, a matched delta on every curve row, one end point."""
    df = pd.read_parquet(smoke_run / "results/smoke/tables/pretrained_rsb.parquet")
    assert set(df["variant"]) == set(RSB)
    curve = df[df.row_type == "curve"]
    assert curve["delta_ce_matched"].notna().all() and (curve["bpb"] > 0).all()
    assert (curve["act_sparsity"] > 0.2).all()
    assert df[df.end_point].groupby("variant").size().eq(1).all()
    shifted = df[df.variant == "shifted_relu"]
    assert (shifted["shift"] > 0).all() and (shifted["activation"] == "shifted_relu").all()


@pytest.mark.slow
def test_the_frontier_marks_one_best_and_combined_best_runs_it(smoke_run):
    front = pd.read_parquet(smoke_run / "results/smoke/tables/relufy_frontier.parquet")
    assert front.best.sum() == 1 and front.on_front.any()
    assert {"lam0", "lam1", "linear2"} <= set(front.schedule)
    assert front.fat_threshold.notna().any()  # FATReLU end points are on it
    best = front[front.best].iloc[0]
    combined = pd.read_parquet(smoke_run / "results/smoke/tables/combined.parquet")
    taken = combined[combined.variant.str.startswith(f"combined_block16_{best.schedule}")]
    assert len(taken) and (taken.schedule == best.schedule).all()


@pytest.mark.slow
def test_decode_screens_every_relu_model_and_keeps_its_greedy_output(smoke_run):
    df = pd.read_parquet(smoke_run / "results/smoke/tables/decode.parquet")
    screened = df[df.path == "screened"]
    assert set(screened.model) == set(df.model) - {"dense"}  # GELU: no zeros to prove
    assert len(screened) and screened.greedy_identical.all()
    assert (screened.up_rows_computed < 1).all()
    assert (df[df.path != "screened"].up_rows_computed == 1).all()


@pytest.mark.slow
def test_smoke_run_draws_every_figure(smoke_run):
    for fig in FIGURES:
        for ext in ("png", "pdf"):
            assert (smoke_run / f"results/smoke/figures/{fig}.{ext}").stat().st_size > 1000, fig


@pytest.mark.slow
def test_smoke_run_writes_the_claims_ledger_and_results_page(smoke_run):
    claims = pd.read_parquet(smoke_run / "results/smoke/tables/claims.parquet")
    byte = claims.verdict.dropna()  # null: a claim judged on the pretrained model alone
    assert len(byte) >= 25 and set(byte) <= set(VERDICTS)
    assert "not run" in set(byte) or "reproduced" in set(byte)
    # the tiny Llama stands in for SmolLM2: every pretrained claim gets a verdict
    pre = claims.verdict_pretrained.dropna()
    assert len(pre) >= 10 and set(pre) <= set(VERDICTS) and "not run" not in set(pre)
    md = (smoke_run / "results/smoke/claims.md").read_text()
    assert "000_498c5e929afa3916.txt" in md and "002_4a21bcc8dd5abec4.txt" in md
    page = (smoke_run / "results/smoke/RESULTS.md").read_text()
    assert "![relufy_frontier](figures/relufy_frontier.png)" in page


@pytest.mark.slow
def test_report_is_built_offline_with_every_figure_and_caption(smoke_run):
    out = smoke_run / "results/smoke/report.html"
    proc = snakemake(
        smoke_run, "--cores", "1", "--configfile", "config/smoke.yaml", "--report", str(out)
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    html = out.read_text()
    assert "The relufication frontier" in html  # a caption, rendered
    for fig in FIGURES:
        assert f"{fig}.png" in html, fig


@pytest.mark.slow
def test_smoke_run_writes_the_refuted_log(smoke_run):
    md = (smoke_run / "results/smoke/refuted-approaches.md").read_text()
    assert "naive_gating" in md and "hard_swap" in md and "## Refuted" in md


@pytest.mark.slow
def test_smoke_models_are_saved_for_later_stages(smoke_run):
    models = {p.name for p in (smoke_run / "results/smoke/models").iterdir()}
    assert {
        "dense.pt",
        "relufy_lam1.0.pt",
        "combined_block16.pt",
        "combined_block16_best.pt",
        "relufy_sched_linear2.pt",
        "prune_block16_r0.5.pt",
    } <= models


@pytest.mark.slow
def test_every_rule_logged_and_benchmarked(smoke_run):
    for rule in ("corpus", "train_dense", "dense_stats", "hard_swap", "flops", "refuted_log"):
        assert (smoke_run / f"logs/smoke/{rule}.log").exists()
        assert (smoke_run / f"benchmarks/smoke/{rule}.tsv").exists()
    for sweep in ("naive_gating/tau0.1", "relufy/lam1.0", "prune/block16_r0.5", "plot/hard_swap"):
        assert (smoke_run / f"logs/smoke/{sweep}.log").exists()
        assert (smoke_run / f"benchmarks/smoke/{sweep}.tsv").exists()


@pytest.mark.slow
def test_finished_run_has_nothing_to_do(smoke_run):
    proc = snakemake(smoke_run, "-n", "--configfile", "config/smoke.yaml")
    assert proc.returncode == 0
    assert planned_jobs(proc) == {}


@pytest.mark.slow
def test_plot_option_reruns_only_the_plot(smoke_run, tmp_path):
    cfg = (smoke_run / "config/smoke.yaml").read_text().replace("dpi: 80", "dpi: 90")
    (tmp_path / "edited.yaml").write_text(cfg)
    proc = snakemake(smoke_run, "-n", "--configfile", str(tmp_path / "edited.yaml"))
    assert set(planned_jobs(proc)) == {"plot"}


@pytest.mark.slow
def test_editing_the_prune_section_reruns_prune_and_its_downstream_only(smoke_run, tmp_path):
    cfg = (smoke_run / "config/smoke.yaml").read_text()
    edited = cfg.replace(
        "prune:\n  ratios: [0.5]\n  structures: [unstructured, block16]\n  steps: 20",
        "prune:\n  ratios: [0.5]\n  structures: [unstructured, block16]\n  steps: 30",
    )
    assert edited != cfg
    (tmp_path / "edited.yaml").write_text(edited)
    jobs = planned_jobs(snakemake(smoke_run, "-n", "--configfile", str(tmp_path / "edited.yaml")))
    # prune, the combined stages holding its masks, the kernels timed on those weights,
    # and everything that reads them: tables, figures, claims, the results page
    assert {
        "prune",
        "combined_sparsity",
        "combined_best",
        "kernel_benchmark",
        "flops",
        "plot",
        "claims",
        "results_page",
    } <= set(jobs), jobs
    assert jobs["prune"] == 2
    upstream = {"corpus", "train_dense", "relufy_finetune", "relufy_schedule", "dense_control"}
    assert not upstream & set(jobs), jobs
    assert not {"scratch", "hard_swap", "naive_gating", "dense_stats"} & set(jobs), jobs


# The jobs the SLURM test sends through sbatch: the byte model's chain from the corpus through
# training (on the fake GPU gres) to the training-free stages. Every rule goes through the same
# executor, so the whole workflow would test nothing more about SLURM; it took 16 of CI's 39
# minutes when it ran everything.
SLURM_TABLES = ["corpus", "train_dense", "dense_stats", "naive_gating", "hard_swap"]


@pytest.mark.slow
def test_smoke_workflow_runs_on_a_real_slurm_cluster(smoke_run, tmp_path):
    work = repo_copy(tmp_path)
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
            # The plugin polls squeue after this many seconds, then waits 10 s longer after
            # each poll that finds nothing finished (1 s: polls at 1, 12, 33 s). A job here
            # takes 12-20 s (sbatch, the job's own Snakemake, the script), so with 1 s each of
            # the 4 levels was found at 33 s; with 5 (polls at 5, 20, 45 s), at 20 s.
            *("--slurm-init-seconds-before-status-checks", "5"),
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
    tables = "results/smoke/tables"
    differences = compare_runs(work / tables, smoke_run / tables)
    assert set(differences) == set(SLURM_TABLES), differences
    assert not {t: d for t, d in differences.items() if d is not None}


def rule_scripts(repo: Path) -> dict[str, str]:
    """Rule -> the script it runs, read from the rule files."""
    found = {}
    for smk in (repo / "workflow/rules").glob("*.smk"):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            script = re.search(r'script:\s*"\.\./scripts/([\w.]+)"', block)
            if script:
                found[block.split(":", 1)[0]] = script.group(1)
    return found


def rules_with_changed_params(proc: subprocess.CompletedProcess) -> set[str]:
    """Rules a dry run plans because their params changed (not merely downstream)."""
    changed, rule = set(), None
    for line in (proc.stdout + proc.stderr).splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line)
        if m:
            rule = m.group(1)
        elif "reason:" in line and "Params have changed" in line:
            changed.add(rule)
    return changed


# A module in each subpackage, two levels below src/, and a C++ source of the kernels.
EDITED = [
    "core/evaluate.py",
    "metrics/flops.py",
    "methods/schedules.py",
    "analysis/preact.py",
    "inference/decode.py",
    "inference/csrc/up_screen.cpp",
    "report/figures_rsb.py",
]


@pytest.mark.slow
@pytest.mark.parametrize("module", EDITED)
def test_editing_a_module_reruns_exactly_the_rules_whose_scripts_reach_it(smoke_run, module):
    pkg = smoke_run / "src/actsparse"
    path = (pkg / module).resolve()
    scripts = smoke_run / "workflow/scripts"
    expected = {
        rule
        for rule, script in rule_scripts(smoke_run).items()
        if path in module_closure(scripts / script, pkg)
    }
    assert expected, f"no rule reaches {module}"
    original = path.read_text()
    try:
        path.write_text(
            original + "\n// an edit\n" if module.endswith(".cpp") else original + "\n# an edit\n"
        )
        proc = snakemake(smoke_run, "-n", "--configfile", "config/smoke.yaml")
    finally:
        path.write_text(original)
    # Snakemake names the params change only where no updated input already reruns a job,
    # so "exactly" is checked on the plan: the edit plans what forcing exactly the expected
    # rules plans (them and everything downstream of them), no more, no less.
    assert rules_with_changed_params(proc)
    assert rules_with_changed_params(proc) <= expected
    forced = snakemake(
        smoke_run, "-n", "--configfile", "config/smoke.yaml", "--forcerun", *sorted(expected)
    )
    assert planned_jobs(proc) == planned_jobs(forced)
    assert "corpus" not in planned_jobs(proc)  # nothing upstream of a changed rule reruns


@pytest.mark.slow
def test_a_resorted_config_with_respelled_numbers_plans_nothing(smoke_run, tmp_path):
    """Key order and the YAML spelling of a number (3e-3 vs 0.003, 60.0 vs 60) are not
    changes: a tool that rewrites the config sorted must not cost a full rerun."""
    cfg = yaml.safe_load((smoke_run / "config/smoke.yaml").read_text())
    text = yaml.safe_dump(cfg, sort_keys=True)
    respelled = text.replace("lr: 0.003", "lr: 3e-3", 1).replace("steps: 60", "steps: 60.0", 1)
    assert respelled.count("3e-3") == 1 and respelled.count("60.0") == 1
    (tmp_path / "resorted.yaml").write_text(respelled)
    proc = snakemake(smoke_run, "-n", "--configfile", str(tmp_path / "resorted.yaml"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert planned_jobs(proc) == {}


@pytest.mark.slow
def test_a_script_run_by_hand_rebuilds_its_table(smoke_run, tmp_path):
    work = tmp_path / "copy"
    shutil.copytree(smoke_run, work, ignore=shutil.ignore_patterns(".snakemake"))
    table = work / "results/smoke/tables/flops.parquet"
    before = pd.read_parquet(table)
    table.unlink()
    proc = subprocess.run(
        [sys.executable, "workflow/scripts/flops.py", "--configfile", "config/smoke.yaml"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pd.testing.assert_frame_equal(pd.read_parquet(table), before)


@pytest.mark.slow
def test_adding_a_sweep_value_runs_only_the_new_jobs(smoke_run, tmp_path):
    cfg = (smoke_run / "config/smoke.yaml").read_text()
    cfg = cfg.replace("taus: [0.01, 0.1]\n  max_rel_ce", "taus: [0.01, 0.1, 0.05]\n  max_rel_ce")
    (tmp_path / "edited.yaml").write_text(cfg)
    proc = snakemake(smoke_run, "-n", "--configfile", str(tmp_path / "edited.yaml"))
    jobs = planned_jobs(proc)
    assert jobs == {
        "naive_gating": 1,
        "gather_table": 1,
        "refuted_log": 1,
        "plot": 1,
        "claims": 1,
        "results_page": 1,
    }, jobs
    assert "tau0.05.parquet" in proc.stdout + proc.stderr
