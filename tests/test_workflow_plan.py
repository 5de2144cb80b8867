"""The workflow's plan, its config checks and its code style: dry runs and linters on the
repository itself, no job run (tests/test_workflow.py runs the smoke workflow)."""

import re
import subprocess
import sys

import pytest

from tests.workflow_runs import BIN, REPO, planned_jobs, repo_copy, snakemake


def test_cuda_config_asks_the_cluster_for_a_gpu_for_training_only():
    def job_blocks(*extra: str) -> dict[str, str]:
        proc = snakemake(REPO, "-n", "--forceall", "--configfile", "config/smoke.yaml", *extra)
        assert proc.returncode == 0, proc.stderr[-2000:]
        blocks = re.split(r"\n(?=(?:local)?rule \w+:)", proc.stdout + proc.stderr)
        return {re.match(r"(?:local)?rule (\w+):", b)[1]: b for b in blocks[1:]}

    cuda = job_blocks("--config", "device=cuda")
    assert "gpu=1" in cuda["train_dense"] and "gpu=1" in cuda["relufy_finetune"]
    assert "gpu=" not in cuda["plot"] and "gpu=" not in cuda["kernel_benchmark"]
    assert "gpu=0" in job_blocks()["train_dense"]


def test_cett_variants_pick_the_scored_models_and_an_unknown_one_is_named(tmp_path):
    """pretrained.cett.variants: the CETT jobs are exactly the chosen ones (a full run can
    afford a few of the 16 at ~5 min each); a variant the run does not make stops the plan."""
    cfg = (REPO / "config/smoke.yaml").read_text()

    def plan(variants: str) -> subprocess.CompletedProcess:
        edited = cfg.replace("steps: 3}", f"steps: 3, variants: {variants}}}")
        assert edited != cfg
        (tmp_path / "edited.yaml").write_text(edited)
        return snakemake(REPO, "-n", "--forceall", "--configfile", str(tmp_path / "edited.yaml"))

    picked = plan("[dense, stage2]")
    assert picked.returncode == 0, picked.stderr[-2000:]
    assert planned_jobs(picked)["pretrained_cett"] == 2
    wrong = plan("[dense, relufy_lam9]")
    assert wrong.returncode != 0
    assert "pretrained.cett.variants: ['relufy_lam9'] are not made by this run" in (
        wrong.stdout + wrong.stderr
    )


@pytest.mark.parametrize(
    "script", sorted(p.name for p in (REPO / "workflow/scripts").glob("[a-z]*.py"))
)
def test_every_script_runs_standalone_and_says_how(script):
    proc = subprocess.run(
        [sys.executable, str(REPO / "workflow/scripts" / script), "--help"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--configfile" in proc.stdout and "NAME=VALUE" in proc.stdout


def test_bad_config_stops_the_workflow_before_any_job(tmp_path):
    work = repo_copy(tmp_path)
    (tmp_path / "bad.yaml").write_text("run_name: bad\ntrain_dense:\n  lr: -0.5\n")
    proc = snakemake(work, "--cores", "1", "--configfile", str(tmp_path / "bad.yaml"))
    assert proc.returncode != 0
    assert "config key 'train_dense.lr'" in proc.stderr
    assert not (work / "results/bad").exists()


def test_workflow_lint_is_clean():
    proc = snakemake(REPO, "--lint", "--configfile", "config/smoke.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr


def test_snakemake_files_are_snakefmt_formatted():
    proc = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_python_is_ruff_clean_and_formatted():
    paths = ["src", "workflow/scripts", "tests"]
    for cmd in (["check", *paths], ["format", "--check", *paths]):
        proc = subprocess.run([str(BIN / "ruff"), *cmd], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
