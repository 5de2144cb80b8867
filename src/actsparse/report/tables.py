"""Parquet tables: every schema defined here, once.

Tables are the interface between stages and plots. Each row carries `run_name`,
`config_hash` and `seed`, and the file's metadata holds the full config subset the
stage ran with, so any number can be traced back to the knobs that produced it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from actsparse.core.config import config_hash

ROW_STAMP = [
    pa.field("run_name", pa.string(), nullable=False),
    pa.field("config_hash", pa.string(), nullable=False),
    pa.field("seed", pa.int64(), nullable=False),
    pa.field("variant", pa.string(), nullable=False),
]


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema(ROW_STAMP + [pa.field(n, t) for n, t in fields])


F64, I64, STR, BOOL = pa.float64(), pa.int64(), pa.string(), pa.bool_()

# A quality-and-sparsity trajectory: row_type "curve" (step 0 = right after the change,
# before any update), "layer" (per-layer act_sparsity at the end), or "final".
FINETUNE = (
    ("row_type", STR),
    ("step", I64),
    ("layer", I64),
    ("ce", F64),
    ("delta_ce", F64),
    ("rel_ce", F64),
    ("delta_ce_matched", F64),  # against the compute-matched dense control (dense_control)
    ("train_ce", F64),
    ("act_sparsity", F64),
    ("weight_sparsity", F64),
    ("activation", STR),
    ("lam", F64),  # the L1 coefficient; for a ramped schedule, its peak
    ("shift", F64),  # b of shifted ReLU(x - b)
    ("schedule", STR),  # the L1 schedule's name (relufy: lam<x> for a constant lam)
    ("ramp", STR),  # constant | linear | stepwise
    ("fat_threshold", F64),  # FATReLU T applied after the fine-tune (null: plain ReLU)
    ("structure", STR),
    ("ratio", F64),
)

# Speculative decoding speedups (RSB Appendix C), by the formula or measured: kind is
# aggregated | random | standard | aggregated_down; source formula | measured.
SPECULATIVE = (
    ("kind", STR),
    ("source", STR),
    ("c", F64),
    ("alpha", F64),
    ("gamma", I64),
    ("s_agg", F64),
    ("speedup_vs_standard", F64),
    ("speedup_vs_autoregressive", F64),
)

# CETT-PPL-p% rows (methods.cett.rows), the byte model's and the pretrained model's alike.
CETT = (
    ("rise", F64),  # p: the perplexity rise allowed, a fraction
    ("cett", F64),  # the shared per-layer CETT target found
    ("ce", F64),  # the truncated variant: per byte (byte model) or per token
    ("bpb", F64),
    ("delta_ce", F64),  # against reference_ce
    ("reference_ce", F64),  # the dense model's, untruncated, on the same windows
    ("within", BOOL),  # ce <= reference_ce + ln(1 + rise); false: CETT 0 is already past
    ("act_sparsity", F64),  # inactive share at the down projection's input
    ("exact_sparsity", F64),  # the variant's own exact zeros (CETT 0)
    ("scored", I64),  # CETT targets evaluated in the search (its cost)
)

# FLOPs per byte (token, for a pretrained model) under both accountings (metrics.flops).
FLOPS = (
    ("accounting", STR),
    ("act_sparsity", F64),
    ("weight_sparsity", F64),
    ("attention_flops", F64),
    ("ffn_gate_flops", F64),  # a gated FFN's gate projection (0: the byte model's MLP)
    ("ffn_up_flops", F64),
    ("ffn_down_flops", F64),
    ("head_flops", F64),
    ("ffn_flops", F64),
    ("total_flops", F64),
    ("ffn_frac_of_dense", F64),
    ("ffn_speedup", F64),
    ("total_frac_of_dense", F64),
)

SCHEMAS: dict[str, pa.Schema] = {
    # One row per split of the corpus.
    "corpus": _schema(
        ("source", STR),
        ("origin", STR),
        ("sha256", STR),  # of the whole corpus
        ("total_bytes", I64),
        ("split", STR),
        ("split_bytes", I64),
        ("split_sha256", STR),
    ),
    # row_type: "curve" (one per evaluation during training, split=val), "eval" (final
    # model on val and test), "reference" (a real compressor on the test split).
    "train_dense": _schema(
        ("row_type", STR),
        ("split", STR),
        ("step", I64),
        ("ce", F64),
        ("bpb", F64),
        ("train_ce", F64),
        ("lr", F64),
        ("act_sparsity", F64),
        ("n_bytes", I64),
        ("bytes_per_s", F64),  # eval rows: inference; reference rows: compression
        ("train_bytes_per_s", F64),
        ("wall_s", F64),
        ("compressed_bytes", I64),
    ),
    # row_type "layer" (layer set) and "mean" (layer null) per tau; "energy_curve".
    "dense_stats": _schema(
        ("row_type", STR),
        ("layer", I64),
        ("tau", F64),
        ("frac_active_tau", F64),
        ("energy95_width", F64),
        ("width_frac", F64),
        ("energy_frac", F64),
    ),
    # One row per tau; down_flops_saved is the share of the down projection a kernel skips.
    "naive_gating": _schema(
        ("tau", F64),
        ("ce", F64),
        ("delta_ce", F64),
        ("rel_ce", F64),
        ("act_sparsity", F64),
        ("down_flops_saved", F64),
        ("model_flops_saved", F64),
        ("max_rel_ce", F64),
        ("within_budget", BOOL),
    ),
    "hard_swap": _schema(*FINETUNE),
    "dense_control": _schema(*FINETUNE),
    "relufy": _schema(*FINETUNE),
    "scratch": _schema(*FINETUNE),
    "prune": _schema(*FINETUNE),
    "combined": _schema(*FINETUNE, ("rel_ppl", F64)),
    # One row per relufy end point (each L1 schedule, each FATReLU threshold on it) against
    # the compute-matched control; `best` is the one combined_best takes (frontier.pick_best).
    "relufy_frontier": _schema(
        ("schedule", STR),
        ("ramp", STR),
        ("peak", F64),  # the L1 coefficient's peak (a constant schedule: its lam)
        ("stages", I64),
        ("ramp_frac", F64),
        ("mean_lam", F64),  # the coefficient averaged over the fine-tune's steps
        ("fat_threshold", F64),
        ("act_sparsity", F64),
        ("ce", F64),
        ("delta_ce", F64),
        ("delta_ce_matched", F64),
        ("on_front", BOOL),
        ("best", BOOL),
    ),
    # Per variant and accounting (ideal | exact): FLOPs per byte.
    "flops": _schema(*FLOPS),
    # One row per timed kernel configuration (kernel_benchmark); speed is measured here,
    # never asserted in a test.
    "kernels": _schema(
        ("kernel", STR),
        ("pattern", STR),  # synthetic | real
        ("model", STR),  # real patterns: the model whose activations and weights were used
        ("strategy", STR),
        ("d_model", I64),
        ("d_ffn", I64),
        ("n_layer", I64),
        ("threads", I64),
        ("batch", I64),
        ("sparsity", F64),  # target (synthetic)
        ("density", F64),  # measured fraction of active neurons (union for batches)
        ("weight_sparsity", F64),
        ("latency_us_median", F64),
        ("latency_us_p10", F64),
        ("latency_us_p90", F64),
        ("dense_latency_us", F64),  # the fastest torch call's (paired with this kernel)
        ("dense_impl", STR),  # the fastest torch call
        ("speedup_vs_torch", F64),
        ("best_dense_impl", STR),  # the fastest dense: torch's or ours on a zero-free vector
        ("best_dense_latency_us", F64),
        ("speedup_vs_dense", F64),  # against the best dense
        ("ideal_speedup", F64),
        ("fraction_of_ideal", F64),  # speedup_vs_dense / ideal_speedup
        ("isa", STR),  # avx512 | avx2 | portable: the kernel code path that ran
        ("best_isa", BOOL),  # isa is the path this CPU runs by default (claims read these)
        ("cpu_model", STR),
        ("row_prefetch", BOOL),  # the AVX-512 row streaming prefetched rows ahead (per vendor)
    ),
    # One row per (model, FFN path) of the decode engine; batch 1, KV cache, greedy.
    "decode": _schema(
        ("model", STR),
        ("path", STR),  # dense | sparse | block_sparse | screened (ReLU-type models)
        ("threads", I64),
        ("n_new", I64),
        ("bytes_per_s", F64),
        ("speedup_vs_dense_path", F64),
        ("act_sparsity", F64),
        ("up_rows_computed", F64),  # fraction of W_up rows computed in fp32 (screened: < 1)
        ("greedy_identical", BOOL),  # same bytes as the dense path of the same model
        ("isa", STR),
        ("cpu_model", STR),
    ),
    # The pretrained model decoded token by token (batch 1, greedy): our C++ engine's paths
    # (engine actsparse) and llama.cpp's formats (engine llama.cpp) on the same weights,
    # prompt, new tokens and threads. status: ok, or "not run: <why>" (no timing then).
    "pretrained_decode": _schema(
        ("engine", STR),  # actsparse | llama.cpp (variant: dense | hard_swap | relufy_<s> | ...)
        ("path", STR),  # dense | sparse | screened (llama.cpp: dense)
        ("weights", STR),  # fp32 (ours) | Q4_1 | F32 | Q8_0 (llama.cpp's GGUF)
        ("threads", I64),
        ("prompt_tokens", I64),
        ("new_tokens", I64),
        ("tokens_per_s", F64),  # best of the repeats
        ("speedup_vs_dense_path", F64),  # over our dense path on the same variant
        ("ideal_speedup", F64),  # dense weight bytes per token over this path's
        ("fraction_of_ideal", F64),  # speedup_vs_dense_path / ideal_speedup
        ("speedup_vs_llamacpp_f32", F64),  # over llama.cpp_f32_tokens_per_s
        # llama.cpp F32 on the dense model at these threads, taking turns with this row's run
        ("llamacpp_f32_tokens_per_s", F64),
        ("act_sparsity", F64),
        ("gate_rows", F64),  # fractions of FFN rows read per projection
        ("up_rows", F64),
        ("down_rows", F64),
        ("greedy_identical", BOOL),  # same tokens as our dense path of the same variant
        ("same_tokens_as_llamacpp_f32", BOOL),
        ("tokens", pa.list_(I64)),  # the greedy continuation
        ("huge_pages", BOOL),  # the OS took the weights' huge-page advice
        ("status", STR),
        ("isa", STR),
        ("cpu_model", STR),
    ),
    # RSB Fig. 2: from-scratch models with x * sigmoid(beta x) (beta = inf: ReLU).
    "activation_family": _schema(*FINETUNE, ("beta", F64)),
    # RSB Fig. 8: shifted ReLU fine-tuned like the plain ReLU (compare relufy_lam0).
    "shifted_relu": _schema(*FINETUNE),
    # RSB Fig. 3 / Table 1: stage 1 (FFN ReLU) and stage 2 (+ ReLU after the norms).
    "stage2": _schema(
        *FINETUNE,
        ("qkv_in_sparsity", F64),
        ("up_in_sparsity", F64),
        ("down_in_sparsity", F64),
        ("flops_per_byte", F64),  # every projection skipping its zero inputs
        ("flops_frac_of_dense", F64),
    ),
    # RSB Fig. 7c: ce after a prompt with alternate gamma-byte windows restricted to the
    # previous window's active neurons (reuse), a random set of that size, or neither.
    "reuse": _schema(
        ("gamma", I64),
        ("kind", STR),
        ("ce", F64),
        ("ppl", F64),
        ("kept_frac", F64),  # mean fraction of neurons allowed in the restricted windows
    ),
    # RSB Fig. 7a,b: per layer and prompt length t, the fraction of FFN neurons not yet used
    # (kind "observed", averaged over prompts) and the random baseline s_i^t (kind "random").
    "aggregated": _schema(
        ("layer", I64),
        ("t", I64),
        ("kind", STR),
        ("unused_frac", F64),
        ("act_sparsity", F64),  # the layer's mean per-byte sparsity s_i
    ),
    # RSB Theorems 1-2 from the measured s_agg(gamma); kind aggregated | random | standard |
    # aggregated_down (sparsity cuts only the down projection's share of the pass; s_agg is
    # then the effective fraction skipped).
    "speculative": _schema(
        *SPECULATIVE,  # source: formula (the measured run is table speculative_decode)
        ("optimal", BOOL),  # the gamma maximising speedup_vs_autoregressive for kind, c, alpha
    ),
    # RSB Sec. 5.2 measured: an n-gram draft, the relufied target verifying with a dense
    # (kind standard) or sparse (kind aggregated) FFN; wall-clock beside Theorems 1-2 fed
    # with the measured c, alpha and s_agg (the union sparsity of the verification passes).
    "speculative_decode": _schema(
        *SPECULATIVE,  # source: measured
        ("optimal", BOOL),  # the gamma with the best measured speedup_vs_autoregressive
        ("predicted_speedup_vs_standard", F64),
        ("predicted_speedup_vs_autoregressive", F64),
        ("bytes_per_s", F64),
        ("autoregressive_bytes_per_s", F64),  # the dense path, byte by byte
        ("accepted_per_round", F64),
        ("greedy_identical", BOOL),  # output equals the autoregressive greedy output
        ("threads", I64),  # the engine's: one (it runs no parallel region)
        ("isa", STR),
        ("cpu_model", STR),
    ),
    # A pretrained LLM (pretrained.*): one row per model variant and method. ce is per token,
    # bpb = nats / bytes of text / ln 2 (one axis with the byte model); act_sparsity: exact
    # zeros at the down projection's input, gate_zeros: at the activation's output.
    "pretrained_quality": _schema(
        ("model", STR),  # where the model came from (a registry requirement, a path, tiny:*)
        ("method", STR),  # dense | thresholds | hard_swap (zero-shot also: control | relufy)
        ("activation", STR),
        ("target_sparsity", F64),  # thresholds: the calibrated share of zeroed activations
        ("threshold_mean", F64),  # thresholds: the per-layer thresholds' mean
        ("ce", F64),
        ("bpb", F64),
        ("ppl", F64),
        ("delta_ce", F64),  # against the dense model on the same windows
        ("rel_ce", F64),
        ("act_sparsity", F64),
        ("gate_zeros", F64),
        ("tokens", I64),  # predicted tokens scored
        ("text_bytes", I64),  # the bytes of text they cover
    ),
    # Relufication of the pretrained model (stage 1: ReLU gate + L1 on its output, one part
    # per schedule) and its compute-matched SiLU control: the relufy table's rows, ce per
    # token, with bpb beside it.
    # end_point: the fine-tune's last curve row and its FATReLU rows (the frontier's points)
    "pretrained_relufy": _schema(*FINETUNE, ("model", STR), ("bpb", F64), ("end_point", BOOL)),
    "pretrained_control": _schema(*FINETUNE, ("model", STR), ("bpb", F64)),
    # FLOPs per token of every pretrained variant's end point (the gated FFN's accountings).
    "pretrained_flops": _schema(("model", STR), *FLOPS),
    # RSB's other relufications (stage 2, dReLU, shifted ReLU), one part per variant, with
    # the stage-1 budget: the pretrained_relufy columns.
    "pretrained_rsb": _schema(*FINETUNE, ("model", STR), ("bpb", F64), ("end_point", BOOL)),
    # RSB Table 4: the pretrained FFN pruned (magnitude, Wanda; structure: the method) to the
    # relufied model's FFN FLOPs, then the stage-1 budget's recovery fine-tune, masks held.
    "pretrained_prune": _schema(*FINETUNE, ("model", STR), ("bpb", F64), ("end_point", BOOL)),
    # RSB Table 1 on the pretrained model, per variant: the exact-zero share at the inputs of
    # QKV, up (and gate) and down, and FLOPs per token skipping the columns of zero inputs.
    "pretrained_inputs": _schema(
        ("model", STR),
        ("qkv_in_sparsity", F64),
        ("up_in_sparsity", F64),
        ("down_in_sparsity", F64),
        ("flops_per_token", F64),
        ("flops_frac_of_dense", F64),
        ("ce", F64),
        ("delta_ce", F64),
        ("rel_ce", F64),
        ("bpb", F64),
    ),
    # Zero-shot multiple choice (BIG-bench), per model variant and task, by log-likelihood.
    "pretrained_zeroshot": _schema(
        ("model", STR),
        ("method", STR),
        ("target_sparsity", F64),
        ("task", STR),
        ("n", I64),
        ("acc", F64),
        ("acc_stderr", F64),  # binomial, sqrt(p (1 - p) / (n - 1))
        ("acc_norm", F64),  # choice log-likelihood per byte
        ("acc_norm_stderr", F64),
        ("chance", F64),  # mean share of correct choices
    ),
    # CETT-PPL-p% (methods.cett) per variant and PPL rise: the share of inactive neurons at
    # the largest CETT target whose perplexity stays within (1 + rise) of the dense model's.
    # cett: the byte model's variants (ce per byte); pretrained_cett: the pretrained model's.
    "cett": _schema(*CETT),
    "pretrained_cett": _schema(("model", STR), *CETT),
    # RSB Fig. 1a on the pretrained model: its natural activation statistics, per layer.
    "pretrained_dense_stats": _schema(
        ("model", STR),
        ("layer", I64),
        ("tau", F64),
        ("frac_active_tau", F64),  # share of |gate output| > tau
        ("gate_zeros", F64),
        ("act_sparsity", F64),
        ("energy95_width", F64),  # width holding 95% of a token's gate-output energy
    ),
    # RSB Fig. 5 on the pretrained model: the gate's binned pre-activation densities per
    # layer, per variant (dense, hard_swap, control, relufy_<s>, RSB variants).
    "pretrained_preact": _schema(
        ("model", STR),
        ("layer", I64),
        ("bin_lo", F64),
        ("bin_hi", F64),
        ("density", F64),
        ("frac_above_zero", F64),
    ),
    # RSB Fig. 7a,b on the pretrained model: per variant, layer and prompt length t (tokens),
    # the fraction of FFN neurons not yet used (observed) and s_i^t (random).
    "pretrained_aggregated": _schema(
        ("model", STR),
        ("layer", I64),
        ("t", I64),
        ("kind", STR),
        ("unused_frac", F64),
        ("act_sparsity", F64),  # the layer's mean per-token sparsity s_i
    ),
    # RSB Fig. 7c on the pretrained model (variant: hard_swap | relufy_<s> | ...): as reuse.
    "pretrained_reuse": _schema(
        ("model", STR),
        ("gamma", I64),
        ("kind", STR),  # none | reuse | random
        ("ce", F64),  # nats per token after the prompt
        ("ppl", F64),
        ("kept_frac", F64),
    ),
    # RSB Fig. 5: binned FFN pre-activation densities per layer (variant: dense | swapped |
    # relufied).
    "preact": _schema(
        ("layer", I64),
        ("bin_lo", F64),
        ("bin_hi", F64),
        ("density", F64),
        ("frac_above_zero", F64),
    ),
    # One row per seed claim (variant = the claim's id in config/claims.yaml).
    "claims": _schema(
        ("seed_file", STR),
        ("section", STR),
        ("claim", STR),
        ("seed_value", F64),
        ("ours", F64),
        ("ours_series", pa.list_(F64)),  # for order claims: our values in order
        ("unit", STR),
        ("verdict", STR),  # reproduced | shape holds | not reproduced | no data | not run
        ("rule", STR),
        ("why", STR),
        ("scale_dependent", BOOL),
        ("figure", STR),
        ("source_table", STR),
        ("direction", STR),  # two-sided | at-most | at-least | order
        ("context", STR),  # values shown beside ours, not judged
        ("ours_pretrained", F64),  # the claim on the pretrained model (its `pretrained` block)
        ("verdict_pretrained", STR),  # null: the claim has no pretrained counterpart
        ("why_pretrained", STR),
    ),
    # One row per approach tried: its headline numbers, the bar, and the verdict.
    "refuted": _schema(
        ("stage", STR),
        ("act_sparsity", F64),
        ("weight_sparsity", F64),
        ("delta_ce", F64),
        ("delta_ce_matched", F64),  # what the bar judges where the stage has the control
        ("rel_ce", F64),
        ("saving", F64),
        ("bar", STR),
        ("refuted", BOOL),
        ("why", STR),
    ),
}


class TableError(ValueError):
    """Rows do not fit the table's schema."""


def write_table(
    name: str,
    rows: Sequence[Mapping[str, Any]],
    path: str | Path,
    cfg: Mapping[str, Any],
    status: str | None = None,
) -> pa.Table:
    """Write rows (dicts) to Parquet under the named schema, stamped with their provenance.

    cfg is the config subset the stage ran with; it must hold run_name and seed. Its hash
    goes on every row, the whole subset into the file's metadata. Unknown columns are an
    error. status says why a stage wrote no rows (say, no C++ compiler): readers see it as
    `df.attrs["status"]`, and the claims ledger reports it instead of stopping.
    """
    if name not in SCHEMAS:
        raise TableError(f"no schema for table {name!r}; known: {sorted(SCHEMAS)}")
    schema = SCHEMAS[name]
    extra = {k for r in rows for k in r} - set(schema.names)
    if extra:
        raise TableError(f"table {name!r} has no column(s) {sorted(extra)}")
    stamp = {"run_name": cfg["run_name"], "config_hash": config_hash(cfg), "seed": cfg["seed"]}
    meta = {
        "actsparse.table": name,
        "actsparse.params": json.dumps(cfg, sort_keys=True, default=str),
        **({"actsparse.status": status} if status else {}),
    }
    table = pa.Table.from_pylist([{**stamp, **r} for r in rows], schema=schema.with_metadata(meta))
    _atomic_write_table(table, path)
    return table


def _atomic_write_table(table: pa.Table, path: str | Path) -> None:
    # Imported here: checkpoint imports torch, and the workflow imports this module (via the
    # figure registry) every time it parses, in every SLURM job: seconds each.
    from actsparse.core.checkpoint import atomic_write

    atomic_write(path, lambda f: pq.write_table(table, f))


def read_table(path: str | Path) -> pd.DataFrame:
    """The table, with the stage's status (why it is empty, if it is) in attrs."""
    df = pd.read_parquet(path)
    status = (pq.read_schema(path).metadata or {}).get(b"actsparse.status")
    if status:
        df.attrs["status"] = status.decode()
    return df


def table_params(path: str | Path) -> dict[str, Any]:
    """The config subset recorded in a table's metadata."""
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(b"actsparse.params", b"{}"))


def concat_tables(parts: Sequence[str | Path], path: str | Path) -> pa.Table:
    """One table from sweep parts of the same schema; each part keeps its own provenance."""
    tables = [pq.read_table(p) for p in parts]
    if not tables:
        raise TableError(f"no parts to gather into {path}")
    table = pa.concat_tables(tables)
    params = [json.loads((t.schema.metadata or {}).get(b"actsparse.params", b"{}")) for t in tables]
    meta = {
        **(tables[0].schema.metadata or {}),
        b"actsparse.params": json.dumps(params, sort_keys=True).encode(),
    }
    table = table.replace_schema_metadata(meta)
    _atomic_write_table(table, path)
    return table


# Reading stage tables back: the end point of every variant, the way every consumer
# (FLOP accounting, the refuted log, figures) needs it, defined once.
def end_points(df: pd.DataFrame) -> pd.DataFrame:
    """One row per variant: its "final" row, or else its last "curve" row."""
    final = df[df.row_type == "final"]
    curve = df[(df.row_type == "curve") & ~df.variant.isin(final.variant)]
    last = curve.sort_values("step").groupby("variant", sort=False).tail(1)
    return pd.concat([final, last]).set_index("variant", drop=False).sort_index()


def layer_sparsity(df: pd.DataFrame) -> pd.DataFrame:
    """Per-layer act_sparsity at the end of each variant: variant x layer."""
    layers = df[df.row_type == "layer"]
    last = layers[layers.step == layers.groupby("variant").step.transform("max")]
    return last.pivot_table(index="variant", columns="layer", values="act_sparsity")
