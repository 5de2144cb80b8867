"""Run a rule's script by hand, outside Snakemake, for debugging (as PyPSA-Eur does):

    python workflow/scripts/<script>.py [--configfile FILE] [--rule RULE] [WILDCARD=VALUE ...]

builds the `snakemake` object Snakemake would pass the script (input, output, params,
wildcards, threads) from the workflow itself, with the log sent to the terminal. The
inputs must exist (run the workflow up to them first). Every script calls this only when
it was not started by Snakemake, so a workflow run never imports it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def mock_snakemake(default_rule: str, doc: str | None = None):  # noqa: ANN201 (snakemake.script.Snakemake)
    parser = argparse.ArgumentParser(
        description=doc, epilog="Wildcards are given as NAME=VALUE, e.g. structure=block16."
    )
    parser.add_argument("--configfile", default="config/config.yaml", help="relative to the repo")
    parser.add_argument("--rule", default=default_rule, help=f"default: {default_rule}")
    parser.add_argument("wildcards", nargs="*", metavar="NAME=VALUE")
    args = parser.parse_args()
    wildcards = dict(w.split("=", 1) for w in args.wildcards)

    from snakemake.api import SnakemakeApi
    from snakemake.dag import DAG
    from snakemake.iocontainers import Log
    from snakemake.jobs import Job
    from snakemake.script import Snakemake
    from snakemake.settings.types import ConfigSettings, ResourceSettings

    os.chdir(REPO)
    with SnakemakeApi() as api:
        workflow_api = api.workflow(
            snakefile=REPO / "Snakefile",
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(configfiles=[Path(args.configfile)]),
        )
        workflow_api.dag()  # sets the DAG settings a Job needs
        workflow = workflow_api._workflow
        rule = workflow.get_rule(args.rule)
        job = Job(rule, DAG(workflow, rules=[rule]), wildcards)
        return Snakemake(
            job.input,
            job.output,
            job.params,
            job.wildcards,
            job.threads,
            job.resources,
            Log(["/dev/stderr"]),  # the log goes to the terminal
            workflow.config,
            rule.name,
            None,
        )
