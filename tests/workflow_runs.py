"""Running Snakemake on a copy of the repository, for the workflow tests (test_workflow*.py)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "results", "logs", "benchmarks", ".snakemake", "__pycache__", ".*_cache"
)


def repo_copy(parent: Path) -> Path:
    """A copy of the repository at parent/actsparse, without its environment, git, results
    or caches: a workflow run there touches nothing of the checkout."""
    work = parent / "actsparse"
    shutil.copytree(REPO, work, ignore=_IGNORE)
    return work


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [str(BIN / "snakemake"), *args], cwd=workdir, capture_output=True, text=True, env=env
    )


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a dry run (empty: nothing to do)."""
    lines = (proc.stdout + proc.stderr).splitlines()
    if "Job stats:" not in lines:
        return {}
    jobs = {}
    for row in lines[lines.index("Job stats:") + 3 :]:
        rule, count = row.split()
        if rule == "total":
            return jobs
        if rule != "all":
            jobs[rule] = int(count)
    raise AssertionError("unterminated Job stats table")
