"""Figures, drawn from Parquet tables alone: a plot never recomputes science. This module
holds the seed-000 figures and the registry the plot rule reads (FIGURES); the RSB and
inference figures are in figures_rsb."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from actsparse.report import tables as results
from actsparse.report.figure_style import LN2, finish, label, plt, save_figure
from actsparse.report.figures_pretrained import (
    pretrained_analysis,
    pretrained_decode,
    pretrained_sparsity,
)
from actsparse.report.figures_rsb import (
    activation_family,
    aggregated,
    cett,
    kernel_latency,
    preact,
    pretrained_cett,
    reuse,
    shifted_relu,
    speculative,
    speculative_decode,
    stage2,
)

SEED_RELUFY = (0.875, 0.037)  # seed 000: act_sparsity, delta_ce after the 500-step fine-tune


def train_dense_curve(df: pd.DataFrame, paths: Sequence[str | Path], dpi: int = 150) -> None:
    """Validation and training bpb over steps, against the compressors on the test split."""
    curve = df[df.row_type == "curve"].sort_values("step")
    evals = df[df.row_type == "eval"].set_index("split")
    refs = df[df.row_type == "reference"]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(curve.step, curve.train_ce / LN2, label="train (mean since last eval)", color="0.6")
    ax.plot(curve.step, curve.bpb, label="validation", color="C0", marker="o", ms=3)
    if "test" in evals.index:
        ax.axhline(
            evals.loc["test", "bpb"],
            color="C0",
            ls=":",
            label=f"model, test split: {evals.loc['test', 'bpb']:.3f}",
        )
    for i, r in enumerate(refs.itertuples()):
        ax.axhline(r.bpb, color=f"C{i + 1}", ls="--", label=f"{r.variant}, test: {r.bpb:.3f}")
    ax.set_xlabel("step")
    ax.set_ylabel("bits per byte")
    lo = min(curve.bpb.min(), refs.bpb.min() if len(refs) else curve.bpb.min())
    ax.set_ylim(lo * 0.9, max(curve.bpb.iloc[0] if len(curve) else 8.0, 4.0) * 1.02)
    run = df.run_name.iloc[0] if len(df) else ""
    ax.set_title(f"dense byte-level LM ({run})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, paths, dpi)


def dense_energy(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """Share of activation energy held by the top fraction of FFN neurons, per layer."""
    df = t["dense_stats"]
    curve = df[df.row_type == "energy_curve"]
    mean = df[df.row_type == "mean"].iloc[0]
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    for layer, g in curve.groupby("layer"):
        ax.plot(g.width_frac, g.energy_frac, label=f"layer {layer}")
    ax.axhline(0.95, color="0.5", ls=":")
    ax.axvline(
        mean.energy95_width,
        color="k",
        ls="--",
        label=f"95% energy needs {mean.energy95_width:.1%} of the width (mean)",
    )
    ax.legend(fontsize=8)
    finish(
        ax,
        "dense GELU: how concentrated is FFN activation energy?",
        "fraction of FFN width (largest first, per byte)",
        "fraction of energy",
    )
    save_figure(fig, paths, dpi)


def gating_sweep(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """Down-projection saving vs quality cost of magnitude gating, per tau."""
    g = t["naive_gating"].sort_values("tau")
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    ax.plot(g.down_flops_saved, g.rel_ce, marker="o")
    last_x = -1.0
    for r in g.itertuples():
        if r.down_flops_saved - last_x < 0.03:  # keep labels of crowded points legible
            continue
        last_x = r.down_flops_saved
        label(ax, f"τ={r.tau:g}", (r.down_flops_saved, r.rel_ce))
    ax.axhline(g.max_rel_ce.iloc[0], color="C3", ls="--", label="quality budget")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.legend(fontsize=8)
    finish(
        ax,
        "naive gating of GELU outputs (no retraining)",
        "share of down projection skipped",
        "rel_ce (relative CE increase)",
    )
    save_figure(fig, paths, dpi)


def hard_swap(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """The hard swap: zeros per layer, and the cost in CE."""
    df = t["hard_swap"]
    final = df[df.row_type == "final"].iloc[0]
    layers = df[df.row_type == "layer"]
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    ax.bar(layers.layer, layers.act_sparsity, color="C3")
    ax.set_ylim(0, 1)
    finish(
        ax,
        f"GELU→ReLU, no retraining: {final.act_sparsity:.1%} zeros, CE +{final.rel_ce:.0%}",
        "layer",
        "act_sparsity",
    )
    save_figure(fig, paths, dpi)


def relufy_trajectory(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """delta_ce and act_sparsity over the fine-tune, per L1 schedule; step 0 is the swap."""
    df = t["relufy"]
    curve = df[df.row_type == "curve"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.0))
    for name, g in curve.groupby("schedule", sort=False):
        g = g.sort_values("step")
        a1.plot(g.step, g.delta_ce, marker=".", label=name)
        a2.plot(g.step, g.act_sparsity, marker=".", label=name)
    a1.set_yscale("symlog", linthresh=0.01)
    a1.axhline(0, color="k", lw=0.8)
    finish(a1, "ReLU + L1 fine-tune: quality", "step", "delta_ce (nats/byte)")
    finish(a2, "ReLU + L1 fine-tune: sparsity", "step", "act_sparsity")
    a1.legend(fontsize=8)
    save_figure(fig, paths, dpi)


def relufy_pareto(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """Final act_sparsity vs delta_ce: each constant lambda, the combined models, the seed's
    point (the seed's recipe; schedules and FATReLU are on the relufy_frontier figure)."""
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    r = results.end_points(t["relufy"])
    r = r[(r.ramp == "constant") & r.fat_threshold.isna()].sort_values("lam")
    ax.plot(r.act_sparsity, r.delta_ce, marker="o", label="relufy (ReLU + L1, per λ)")
    for p in r.itertuples():
        label(ax, f"λ={p.lam:g}", (p.act_sparsity, p.delta_ce))
    c = results.end_points(t["combined"])
    ax.scatter(c.act_sparsity, c.delta_ce, marker="s", color="C2", label="combined (+50% prune)")
    ax.scatter(*SEED_RELUFY, marker="*", s=150, color="C3", label="seed 000 (85M)")
    ax.axhline(0, color="k", lw=0.8)
    ax.legend(fontsize=8)
    finish(ax, "sparsity vs quality after the fine-tune", "act_sparsity", "delta_ce (nats/byte)")
    save_figure(fig, paths, dpi)


def relufy_frontier(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """Every fine-tuned variant against the compute-matched control, its Pareto front, the
    best pick (taken by combined_best), the combined models and the seed's point."""
    f = t["relufy_frontier"]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for ramp, g in f.groupby("ramp"):
        plain = g[g.fat_threshold.isna()]
        fat = g[g.fat_threshold.notna()]
        ax.scatter(plain.act_sparsity, plain.delta_ce_matched, marker="o", label=f"{ramp} L1")
        ax.scatter(fat.act_sparsity, fat.delta_ce_matched, marker="^", label=f"{ramp} L1 + FATReLU")
    front = f[f.on_front].sort_values("act_sparsity")
    ax.plot(front.act_sparsity, front.delta_ce_matched, "k--", lw=0.8, label="Pareto front")
    # Label the plain schedules on the front and the best pick; FATReLU points sit just to
    # the right of their schedule and would only crowd the labels.
    for p in f[(f.on_front & f.fat_threshold.isna()) | f.best].itertuples():
        text = p.variant.removeprefix("relufy_") + (" (best)" if p.best else "")
        label(ax, text, (p.act_sparsity, p.delta_ce_matched), fontsize=6)
    c = results.end_points(t["combined"])
    c = c[c.delta_ce_matched.notna()]
    ax.scatter(
        c.act_sparsity, c.delta_ce_matched, marker="s", color="C7", label="combined (+50% prune)"
    )
    ax.scatter(*SEED_RELUFY, marker="*", s=150, color="C3", label="seed 000 (85M, vs dense)")
    ax.axhline(0, color="k", lw=0.8)
    ax.legend(fontsize=7)
    finish(ax, "relufication frontier", "act_sparsity", "delta_ce_matched (nats/byte)")
    save_figure(fig, paths, dpi)


def layer_sparsity(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """Per-layer act_sparsity at the end of every variant."""
    table = pd.concat([results.layer_sparsity(t[k]) for k in ("hard_swap", "relufy", "combined")])
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    width = 0.8 / max(1, len(table))
    for i, (variant, row) in enumerate(table.iterrows()):
        ax.bar(row.index + i * width, row.values, width=width, label=variant)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, ncol=2)
    finish(ax, "exact zeros per layer", "layer", "act_sparsity")
    save_figure(fig, paths, dpi)


def prune_recovery(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """delta_ce right after pruning (step 0) and during recovery, per structure and ratio."""
    df = t["prune"]
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    for variant, g in df[df.row_type == "curve"].groupby("variant"):
        g = g.sort_values("step")
        ax.plot(g.step, g.delta_ce, marker=".", label=variant)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_yscale("symlog", linthresh=0.01)
    ax.legend(fontsize=8)
    finish(
        ax,
        "magnitude pruning of FFN weights, then recovery",
        "recovery step",
        "delta_ce (nats/byte)",
    )
    save_figure(fig, paths, dpi)


def combined_summary(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """The combined models: sparsities, quality, and FFN FLOPs left in both accountings."""
    c = results.end_points(t["combined"])
    fl = t["flops"].set_index(["variant", "accounting"])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.0))
    x = range(len(c))
    a1.bar([i - 0.2 for i in x], c.act_sparsity, width=0.4, label="act_sparsity")
    a1.bar([i + 0.2 for i in x], c.weight_sparsity, width=0.4, label="weight_sparsity")
    for i, r in enumerate(c.itertuples()):
        a1.annotate(f"ΔCE {r.delta_ce:+.3f}", (i, 0.05), ha="center", fontsize=8)
    a1.set_xticks(list(x), c.index, fontsize=8)
    a1.set_ylim(0, 1)
    a1.legend(fontsize=8)
    finish(a1, "combined: weight prune + ReLU + L1", "", "fraction exactly zero")
    for j, acc in enumerate(("ideal", "exact")):
        vals = [fl.loc[(v, acc), "ffn_frac_of_dense"] for v in c.index]
        a2.bar([i + (j - 0.5) * 0.4 for i in x], vals, width=0.4, label=acc)
    a2.set_xticks(list(x), c.index, fontsize=8)
    a2.legend(fontsize=8, title="accounting")
    finish(a2, "FFN FLOPs left (fraction of dense)", "", "FFN FLOPs / dense")
    save_figure(fig, paths, dpi)


def _curve_only(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    train_dense_curve(t["train_dense"], paths, dpi)


# figure name -> (drawing function, tables it reads). The plot rule reads this mapping.
FIGURES = {
    "train_dense_curve": (_curve_only, ["train_dense"]),
    "dense_energy": (dense_energy, ["dense_stats"]),
    "gating_sweep": (gating_sweep, ["naive_gating"]),
    "hard_swap": (hard_swap, ["hard_swap"]),
    "relufy_trajectory": (relufy_trajectory, ["relufy"]),
    "relufy_pareto": (relufy_pareto, ["relufy", "combined"]),
    "relufy_frontier": (relufy_frontier, ["relufy_frontier", "combined"]),
    "layer_sparsity": (layer_sparsity, ["hard_swap", "relufy", "combined"]),
    "prune_recovery": (prune_recovery, ["prune"]),
    "combined_summary": (combined_summary, ["combined", "flops"]),
    "kernel_latency": (kernel_latency, ["kernels"]),
    "aggregated": (aggregated, ["aggregated"]),
    "speculative": (speculative, ["speculative"]),
    "speculative_decode": (speculative_decode, ["speculative_decode"]),
    "preact": (preact, ["preact"]),
    "activation_family": (activation_family, ["activation_family"]),
    "stage2": (stage2, ["stage2"]),
    "shifted_relu": (shifted_relu, ["shifted_relu", "relufy"]),
    "reuse": (reuse, ["reuse"]),
    "cett": (cett, ["cett"]),
    "pretrained_cett": (pretrained_cett, ["pretrained_cett"]),
    "pretrained_analysis": (
        pretrained_analysis,
        ["pretrained_preact", "pretrained_aggregated"],
    ),
    "pretrained_decode": (pretrained_decode, ["pretrained_decode"]),
    "pretrained_sparsity": (
        pretrained_sparsity,
        ["pretrained_quality", "pretrained_zeroshot", "pretrained_relufy", "pretrained_control"],
    ),
}
FIGURE_TABLES = {name: tables for name, (_, tables) in FIGURES.items()}


def draw(name: str, tables: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """The figure; a stage that could not run (an empty table, its reason in the table)
    gets a figure that says so, so every linked figure exists."""
    if name not in FIGURES:
        raise KeyError(f"unknown figure {name!r}; known: {sorted(FIGURES)}")
    empty = [t for t in FIGURES[name][1] if tables[t].empty]
    if empty:
        fig, ax = plt.subplots(figsize=(6.4, 1.6))
        why = "; ".join(tables[t].attrs.get("status", f"{t}: no rows") for t in empty)
        ax.text(0.5, 0.5, f"{name}: not run\n{why}", ha="center", va="center", wrap=True)
        ax.axis("off")
        save_figure(fig, paths, dpi)
        return
    FIGURES[name][0](tables, paths, dpi)
