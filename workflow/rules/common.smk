# Validation, shared paths, and the named functions every rule reads its inputs and params
# from (snakemake-workflows style: rules hold no logic). Validation runs at parse time, so a
# bad config stops the workflow before any job.
import re
import sys
from pathlib import Path
from types import SimpleNamespace

from actsparse.core.code_digest import library_digest
from actsparse.core.config import ConfigError, canonical, load_schema, validate_config
from actsparse.core.variants import fat_variant, split_fat
from actsparse.report.figures import FIGURE_TABLES

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
SPLITS = {s: f"{RES}/data/{s}.bin" for s in ("train", "val", "test")}
# Training rules ask the cluster for a GPU only when the config asks for CUDA explicitly
# (`device: auto` cannot know at planning time what the node it lands on will have).
GPU = 1 if config["device"] == "cuda" else 0


# --- params: the config subset a rule depends on, canonical --------------------------------
# Editing anything outside a rule's subset never reruns it; the subset is key-sorted, so a
# config whose keys are merely re-ordered plans nothing (Snakemake compares repr(params)).
def section(*names):
    """The named config sections, with run_name and seed (they stamp every table row)."""
    return canonical({n: config[n] for n in ("run_name", "seed", *names)})


def section_of(name):
    """One config section on its own."""
    return canonical(config[name])


def sweep_section(name, *sweep_keys):
    """A sweep stage's section without its sweep lists: adding a value adds jobs, reruns
    none. With the device and the dense model's eval windows every fine-tune reads."""
    sub = {k: v for k, v in config[name].items() if k not in sweep_keys}
    return canonical({**section("device", "train_dense"), name: sub})


def code(script):
    """The digest of the library code a rule script runs (its actsparse imports,
    transitively): editing a module reruns the stages that use it and nothing else."""
    return library_digest(
        Path(workflow.basedir) / "workflow" / "scripts" / script,
        Path(workflow.basedir) / "src" / "actsparse",
    )


def checkpoint_path(name):
    """Where a training job keeps its resumable state; name may hold {wildcards}."""
    return lambda w: f"{RES}/checkpoints/{name.format(**w)}.pt"


def wildcard_float(name):
    return lambda w: float(w[name])


# What in `relufy` is not the fine-tune's budget: the jobs each get their own schedule, the
# FATReLU thresholds are evaluated after training, the frontier budget is read after that.
RELUFY_SWEEP = ("lams", "schedules", "fat_thresholds", "frontier_max_delta_ce_matched")
RELUFY_BUDGET = sweep_section("relufy", *RELUFY_SWEEP)
FAT_THRESHOLDS = config["relufy"]["fat_thresholds"]
SCHEDULES = {s["name"]: s for s in config["relufy"]["schedules"]}
PRUNE_PARAMS = sweep_section("prune", "ratios", "structures")
FAMILY_PARAMS = canonical(
    {**sweep_section("activation_family", "betas"), "model": config["model"]}
)
SCRATCH = {v["name"]: v for v in config["scratch"]["variants"]}


def relufy_budget_with(*names):
    """The relufy budget and the named sections: stages fine-tuned like relufy_lam0."""
    return canonical({**RELUFY_BUDGET, **{n: config[n] for n in names}})


def constant_schedule(w):
    return {"name": f"lam{float(w.lam):g}", "peak": float(w.lam)}


def named_schedule(w):
    return canonical(SCHEDULES[w.schedule])


def scratch_params(w):
    base = sweep_section("scratch", "variants")
    return canonical({**base, "model": config["model"], "variant": SCRATCH[w.variant]})


def figure_caption(w):
    """The figure's report caption (workflow/report/figures/<figure>.rst), rendered by
    ../report/figure.rst: Snakemake captions are one file per rule, not per wildcard."""
    return Path(workflow.source_path(f"../report/figures/{w.figure}.rst")).read_text()


# --- inputs --------------------------------------------------------------------------------
# The relufied model the RSB analyses read: relufy_lam<relufied.lam>, spelt as in lams.
RELUFIED = next(
    f"{RES}/models/relufy_lam{l}.pt"
    for l in config["relufy"]["lams"]
    if float(l) == float(config["relufied"]["lam"])
)
RELUFY_MODELS = [f"{RES}/models/relufy_lam{l}.pt" for l in config["relufy"]["lams"]]
COMBINED_MODELS = [
    f"{RES}/models/combined_{s}.pt" for s in config["combined"]["structures"]
]


def pruned_model(w):
    """The prune stage's model whose masks the combined stage holds (its ratio)."""
    return f"{RES}/models/prune_{w.structure}_r{config['combined']['ratio']}.pt"


# Sweep values as they appear in paths (wildcards), and the parts each table gathers.
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


# The pretrained model's stages (pretrained.enabled): its saved directory, its zero-shot
# task files, and one job per training-free method, gathered like the sweeps.
PRETRAINED = config["pretrained"]["enabled"]
PRETRAINED_DIR = f"{RES}/models/pretrained/dense"
PRETRAINED_METHODS = ["dense", "thresholds", "hard_swap"]
ZEROSHOT_TASKS = [
    f"{RES}/data/zeroshot/{t}.json" for t in config["pretrained"]["zeroshot"]["tasks"]
]
PARTS["pretrained_quality"] = [
    f"{RES}/tables/parts/pretrained_quality/{m}.parquet" for m in PRETRAINED_METHODS
]
PARTS["pretrained_zeroshot"] = [
    f"{RES}/tables/parts/pretrained_zeroshot/{m}.parquet" for m in PRETRAINED_METHODS
]


# Each pretrained fine-tune's L1 schedule by name, as methods.schedules.L1Schedule reads
# it: the constant lams (lam<x>, as L1Schedule.constant names them), then the ramps.
PRETRAINED_SCHEDULES = {
    **{
        f"lam{lam:g}": {"name": f"lam{lam:g}", "ramp": "constant", "peak": lam}
        for lam in config["pretrained"]["relufy"]["lams"]
    },
    **{s["name"]: s for s in config["pretrained"]["relufy"]["schedules"]},
}
PARTS["pretrained_relufy"] = [
    f"{RES}/tables/parts/pretrained_relufy/{s}.parquet" for s in PRETRAINED_SCHEDULES
]
PARTS["pretrained_zeroshot"] += [
    f"{RES}/tables/parts/pretrained_zeroshot/{v}.parquet"
    for v in ["control", *(f"relufy_{s}" for s in PRETRAINED_SCHEDULES)]
]
# RSB's other relufications of the pretrained model (pretrained.rsb), one fine-tune each.
PRETRAINED_RSB = config["pretrained"]["rsb"]["variants"] if PRETRAINED else []
PARTS["pretrained_rsb"] = [
    f"{RES}/tables/parts/pretrained_rsb/{v}.parquet" for v in PRETRAINED_RSB
]
PARTS["pretrained_zeroshot"] += [
    f"{RES}/tables/parts/pretrained_zeroshot/{v}.parquet" for v in PRETRAINED_RSB
]
# RSB Table 4 (pretrained.prune): the FFN weight-pruned to a relufied model's FLOPs, one
# recovery fine-tune per method (core.config checks that the run relufies the model matched).
PRETRAINED_PRUNE = config["pretrained"]["prune"]["methods"] if PRETRAINED else []
PARTS["pretrained_prune"] = [
    f"{RES}/tables/parts/pretrained_prune/{m}.parquet" for m in PRETRAINED_PRUNE
]
PARTS["pretrained_zeroshot"] += [
    f"{RES}/tables/parts/pretrained_zeroshot/prune_{m}.parquet"
    for m in PRETRAINED_PRUNE
]
# CETT-PPL-p% (pretrained.cett) on the dense model, its hard swap and every relufied model,
# each stage-1 model also with each FATReLU threshold (relufy_<s>_fat<T>): SCORED_VARIANTS
# names every variant the run can score, CETT_VARIANTS those pretrained.cett.variants picks.
SCORED_VARIANTS = (
    [
        "dense",
        "hard_swap",
        *(f"relufy_{s}" for s in PRETRAINED_SCHEDULES),
        *(
            fat_variant(f"relufy_{s}", t)
            for s in PRETRAINED_SCHEDULES
            for t in config["pretrained"]["relufy"]["fat_thresholds"]
        ),
        *PRETRAINED_RSB,
    ]
    if PRETRAINED
    else []
)


def check_made(key, chosen, made):
    """A config list of variants (`key`) may name only those this run makes."""
    if unknown := [v for v in chosen if v not in made]:
        raise ConfigError(
            f"{key}: {unknown} are not made by this run; known: {sorted(made)}"
        )


def cett_variants():
    """pretrained.cett.variants (each one the run makes), or by default all of them; none
    where CETT is off."""
    if not (PRETRAINED and config["pretrained"]["cett"]["enabled"]):
        return []
    chosen = config["pretrained"]["cett"]["variants"]
    check_made("pretrained.cett.variants", chosen, SCORED_VARIANTS)
    return [v for v in SCORED_VARIANTS if v in chosen] if chosen else SCORED_VARIANTS


CETT_VARIANTS = cett_variants()
PARTS["pretrained_cett"] = [
    f"{RES}/tables/parts/pretrained_cett/{v}.parquet" for v in CETT_VARIANTS
]
# The pretrained variants RSB's measurements read (Table 1: pretrained.inputs; Fig. 5 and
# 7a,b: pretrained.analysis): the dense model, its hard swap, the control and every relufied
# model.
TRAINED_VARIANTS = [
    "dense",
    "hard_swap",
    "control",
    *(f"relufy_{s}" for s in PRETRAINED_SCHEDULES),
    *PRETRAINED_RSB,
]


def measured_variants(stage):
    """TRAINED_VARIANTS where pretrained.<stage> is enabled, else none."""
    on = PRETRAINED and config["pretrained"][stage]["enabled"]
    return TRAINED_VARIANTS if on else []


# Decoding (pretrained.decode): every measured variant but the SiLU control (the dense
# model's speed on a fine-tuned copy of itself), all in one job that runs alone.
def decode_variants():
    """pretrained.decode.variants, each one the run makes, or by default every trained
    variant but the control."""
    chosen = config["pretrained"]["decode"]["variants"] if PRETRAINED else []
    check_made(
        "pretrained.decode.variants", chosen, {*TRAINED_VARIANTS, *SCORED_VARIANTS}
    )
    measured = [v for v in measured_variants("decode") if v != "control"]
    return chosen if chosen and measured else measured


DECODE_VARIANTS = decode_variants()


def decode_model_dirs():
    """Each decode variant's saved model (cett_model's mapping: the hard swap reads the dense
    model, a FATReLU variant its relufied one)."""
    return {v: cett_model(SimpleNamespace(variant=v)) for v in DECODE_VARIANTS}


def decode_models(w):
    """The saved models the decode variants read, one each."""
    return sorted(set(decode_model_dirs().values()))


INPUTS_VARIANTS = measured_variants("inputs")
PARTS["pretrained_inputs"] = [
    f"{RES}/tables/parts/pretrained_inputs/{v}.parquet" for v in INPUTS_VARIANTS
]
ANALYSIS_VARIANTS = measured_variants("analysis")
# Fig. 7c needs exact zeros to reuse: the SiLU models (dense, control) have none
REUSE_VARIANTS = [v for v in ANALYSIS_VARIANTS if v not in ("dense", "control")]
PARTS["pretrained_reuse"] = [
    f"{RES}/tables/parts/pretrained_reuse/{v}.parquet" for v in REUSE_VARIANTS
]
for _stage in ("pretrained_preact", "pretrained_aggregated"):
    PARTS[_stage] = [
        f"{RES}/tables/parts/{_stage}/{v}.parquet" for v in ANALYSIS_VARIANTS
    ]
# CETT-PPL-p% (cett) on the byte model: each variant's saved model (the hard swap is made
# from the dense one; <stage-1 model>_fat<T> from that model with FATReLU at T).
BYTE_STAGE1_MODELS = {
    **{
        f"relufy_lam{l}": f"{RES}/models/relufy_lam{l}.pt"
        for l in config["relufy"]["lams"]
    },
    **{f"relufy_sched_{s}": f"{RES}/models/relufy_sched_{s}.pt" for s in SCHEDULES},
}
BYTE_CETT_MODELS = (
    {
        "dense": DENSE,
        "hard_swap": DENSE,
        **BYTE_STAGE1_MODELS,
        **{
            fat_variant(v, t): path
            for v, path in BYTE_STAGE1_MODELS.items()
            for t in config["relufy"]["fat_thresholds"]
        },
        "stage2": f"{RES}/models/stage2.pt",
        "shifted_relu": f"{RES}/models/shifted_relu.pt",
    }
    if config["cett"]["enabled"]
    else {}
)
PARTS["cett"] = [f"{RES}/tables/parts/cett/{v}.parquet" for v in BYTE_CETT_MODELS]
# The fine-tunes' params: the pretrained section (the source, context, windows and budget
# they read) with the device; seed and run_name stamp the rows.
PRETRAINED_FINETUNE_PARAMS = section("device", "pretrained")


def rsb_start(w):
    """The model an RSB variant is fine-tuned from: stage 2 from its stage-1 model (RSB
    inserts the norms' ReLU after stage 1), dReLU and shifted ReLU from the dense one.
    """
    if w.variant == "stage2":
        return f"{RES}/models/pretrained/{config['pretrained']['rsb']['stage1']}"
    return PRETRAINED_DIR


def pretrained_schedule(w):
    """Canonical: a config re-sorted or respelled must not rerun a fine-tune."""
    return canonical(PRETRAINED_SCHEDULES[w.schedule])


def byte_cett_model(w):
    """The saved byte model a CETT variant reads."""
    return BYTE_CETT_MODELS[w.variant]


def cett_model(w):
    """The saved model a CETT (or Table 1) variant reads: the hard swap is made from the
    dense one, a FATReLU variant from its relufied model."""
    if w.variant in ("dense", "hard_swap"):
        return PRETRAINED_DIR
    return f"{RES}/models/pretrained/{split_fat(w.variant)[0]}"


def pretrained_source(w):
    """The model source alone: a new source refetches; a stage knob does not."""
    return section_of("pretrained")["source"]


def zeroshot_section(w):
    return section_of("pretrained")["zeroshot"]


def gather_parts(w):
    return PARTS[w.stage]


def figure_tables(w):
    return [f"{RES}/tables/{t}.parquet" for t in FIGURE_TABLES[w.figure]]


TABLES = (
    [
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
    + (
        [
            "pretrained_dense_stats",
            "pretrained_quality",
            "pretrained_zeroshot",
            "pretrained_control",
            "pretrained_relufy",
            "pretrained_flops",
        ]
        if PRETRAINED
        else []
    )
    + (["pretrained_rsb"] if PRETRAINED_RSB else [])
    + (["pretrained_prune"] if PRETRAINED_PRUNE else [])
    + (["cett"] if BYTE_CETT_MODELS else [])
    + (["pretrained_cett"] if CETT_VARIANTS else [])
    + (["pretrained_inputs"] if INPUTS_VARIANTS else [])
    + (["pretrained_preact", "pretrained_aggregated"] if ANALYSIS_VARIANTS else [])
    + (["pretrained_reuse"] if REUSE_VARIANTS else [])
    + (["pretrained_decode"] if DECODE_VARIANTS else [])
)
CLAIM_TABLES = [f"{RES}/tables/{t}.parquet" for t in TABLES if t != "claims"]
# The figures this run draws: those whose tables it makes (the pretrained model's only
# with its stages, CETT's only where it runs).
FIGURES = [f for f, tables in FIGURE_TABLES.items() if set(tables) <= set(TABLES)]
PRETRAINED_TABLES = [
    f"{RES}/tables/{t}.parquet" for t in TABLES if t.startswith("pretrained_")
]
# The figures the results page shows (all of them are in the Snakemake report).
HEADLINE_FIGURES = [
    "relufy_frontier",
    "combined_summary",
    "kernel_latency",
    "gating_sweep",
    "hard_swap",
] + (["pretrained_sparsity"] if PRETRAINED else [])
ALL_OUTPUTS = (
    [f"{RES}/tables/{t}.parquet" for t in TABLES]
    + [f"{RES}/figures/{f}.{ext}" for f in FIGURES for ext in ("png", "pdf")]
    + [f"{RES}/refuted-approaches.md", f"{RES}/claims.md", f"{RES}/RESULTS.md"]
)


wildcard_constraints:
    tau=r"[0-9.e-]+",
    lam=r"[0-9.e-]+",
    ratio=r"[0-9.e-]+",
    structure="unstructured|block16",
    schedule=r"[A-Za-z0-9_.-]+",
    beta=r"[0-9.e+-]+|inf",
