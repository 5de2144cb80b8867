# Validation, shared paths and the config subsets each rule passes through params:.
# Validation runs at parse time, so a bad config stops the workflow before any job.
import sys
from pathlib import Path

from actsparse.config import ConfigError, load_schema, validate_config
from actsparse.plots import FIGURE_TABLES
from actsparse.provenance import library_digest

try:
    config = validate_config(
        config, load_schema(workflow.source_path("../schemas/config.schema.yaml"))
    )
except ConfigError as e:
    sys.exit(f"actsparse: {e}")

RUN = config["run_name"]
RES = f"results/{RUN}"
LOGS = f"logs/{RUN}"
BENCH = f"benchmarks/{RUN}"
DENSE = f"{RES}/models/dense.pt"
# Training rules ask the cluster for a GPU only when the config asks for CUDA explicitly
# (`device: auto` cannot know at planning time what the node it lands on will have).
GPU = 1 if config["device"] == "cuda" else 0
# The relufied model the RSB analyses read: relufy_lam<relufied.lam>, spelt as in lams.
RELUFIED = next(
    f"{RES}/models/relufy_lam{l}.pt"
    for l in config["relufy"]["lams"]
    if float(l) == float(config["relufied"]["lam"])
)
# The prune stage's model whose masks the combined stage holds (its ratio, per structure).
PRUNED = lambda w: f"{RES}/models/prune_{w.structure}_r{config['combined']['ratio']}.pt"
SPLITS = {s: f"{RES}/data/{s}.bin" for s in ("train", "val", "test")}

# The config subset a rule depends on: editing anything else never reruns it. Always
# carries run_name and seed, which stamp every table row.
section = lambda *names: {n: config[n] for n in ("run_name", "seed", *names)}
# The digest of the library code a rule script runs (its actsparse imports, transitively):
# in params, so editing a module reruns the stages that use it and nothing else.
code = lambda script: library_digest(
    Path(workflow.basedir) / "workflow" / "scripts" / script,
    Path(workflow.basedir) / "src" / "actsparse",
)
# A sweep stage's section without its sweep lists: adding a value adds jobs, reruns none.
sweep_section = lambda name, *sweep_keys: {
    **section("device", "train_dense"),
    name: {k: v for k, v in config[name].items() if k not in sweep_keys},
}
# What in `relufy` is not the fine-tune's budget: the jobs each get their own schedule, the
# FATReLU thresholds are evaluated after training, the frontier budget is read after that.
RELUFY_SWEEP = ("lams", "schedules", "fat_thresholds", "frontier_max_delta_ce_matched")

# Sweep values as they appear in paths (wildcards), and the parts each table gathers.
SCRATCH = {v["name"]: v for v in config["scratch"]["variants"]}
SCHEDULES = {s["name"]: s for s in config["relufy"]["schedules"]}
PARTS = {
    "naive_gating": [
        f"{RES}/tables/parts/naive_gating/tau{t}.parquet"
        for t in config["naive_gating"]["taus"]
    ],
    "relufy": [
        f"{RES}/tables/parts/relufy/lam{l}.parquet" for l in config["relufy"]["lams"]
    ]
    + [f"{RES}/tables/parts/relufy/sched_{s}.parquet" for s in SCHEDULES],
    "scratch": [f"{RES}/tables/parts/scratch/{v}.parquet" for v in SCRATCH],
    "activation_family": [
        f"{RES}/tables/parts/activation_family/beta{b}.parquet"
        for b in config["activation_family"]["betas"]
    ],
    "prune": [
        f"{RES}/tables/parts/prune/{s}_r{r}.parquet"
        for s in config["prune"]["structures"]
        for r in config["prune"]["ratios"]
    ],
    "combined": [
        f"{RES}/tables/parts/combined/{s}{best}.parquet"
        for s in config["combined"]["structures"]
        for best in ("", "_best")
    ],
}

TABLES = [
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
    "claims",
]
# The figures the results page shows (all of them are in the Snakemake report).
HEADLINE_FIGURES = [
    "relufy_frontier",
    "combined_summary",
    "kernel_latency",
    "gating_sweep",
    "hard_swap",
]
ALL_OUTPUTS = (
    [f"{RES}/tables/{t}.parquet" for t in TABLES]
    + [f"{RES}/figures/{f}.{ext}" for f in FIGURE_TABLES for ext in ("png", "pdf")]
    + [f"{RES}/refuted-approaches.md", f"{RES}/claims.md", f"{RES}/RESULTS.md"]
)


wildcard_constraints:
    tau=r"[0-9.e-]+",
    lam=r"[0-9.e-]+",
    ratio=r"[0-9.e-]+",
    structure="unstructured|block16",
    schedule=r"[A-Za-z0-9_.-]+",
    beta=r"[0-9.e+-]+|inf",
