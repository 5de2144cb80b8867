"""Figures, drawn from Parquet tables alone: a plot never recomputes science."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from actsparse import results  # noqa: E402

LN2 = 0.6931471805599453


def save_figure(fig: plt.Figure, paths: Sequence[str | Path], dpi: int) -> None:
    for p in paths:
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=dpi, bbox_inches="tight")
    plt.close(fig)


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


SEED_RELUFY = (0.875, 0.037)  # seed 000: act_sparsity, delta_ce after the 500-step fine-tune


def _finish(ax: plt.Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def _label(ax: plt.Axes, text: str, xy: tuple[float, float], fontsize: int = 7) -> None:
    """A point's label, set just above and right of it."""
    ax.annotate(text, xy, fontsize=fontsize, xytext=(3, 3), textcoords="offset points")


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
    _finish(
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
        _label(ax, f"τ={r.tau:g}", (r.down_flops_saved, r.rel_ce))
    ax.axhline(g.max_rel_ce.iloc[0], color="C3", ls="--", label="quality budget")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.legend(fontsize=8)
    _finish(
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
    _finish(
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
    _finish(a1, "ReLU + L1 fine-tune: quality", "step", "delta_ce (nats/byte)")
    _finish(a2, "ReLU + L1 fine-tune: sparsity", "step", "act_sparsity")
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
        _label(ax, f"λ={p.lam:g}", (p.act_sparsity, p.delta_ce))
    c = results.end_points(t["combined"])
    ax.scatter(c.act_sparsity, c.delta_ce, marker="s", color="C2", label="combined (+50% prune)")
    ax.scatter(*SEED_RELUFY, marker="*", s=150, color="C3", label="seed 000 (85M)")
    ax.axhline(0, color="k", lw=0.8)
    ax.legend(fontsize=8)
    _finish(ax, "sparsity vs quality after the fine-tune", "act_sparsity", "delta_ce (nats/byte)")
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
        _label(ax, text, (p.act_sparsity, p.delta_ce_matched), fontsize=6)
    c = results.end_points(t["combined"])
    c = c[c.delta_ce_matched.notna()]
    ax.scatter(
        c.act_sparsity, c.delta_ce_matched, marker="s", color="C7", label="combined (+50% prune)"
    )
    ax.scatter(*SEED_RELUFY, marker="*", s=150, color="C3", label="seed 000 (85M, vs dense)")
    ax.axhline(0, color="k", lw=0.8)
    ax.legend(fontsize=7)
    _finish(ax, "relufication frontier", "act_sparsity", "delta_ce_matched (nats/byte)")
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
    _finish(ax, "exact zeros per layer", "layer", "act_sparsity")
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
    _finish(
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
    _finish(a1, "combined: weight prune + ReLU + L1", "", "fraction exactly zero")
    for j, acc in enumerate(("ideal", "exact")):
        vals = [fl.loc[(v, acc), "ffn_frac_of_dense"] for v in c.index]
        a2.bar([i + (j - 0.5) * 0.4 for i in x], vals, width=0.4, label=acc)
    a2.set_xticks(list(x), c.index, fontsize=8)
    a2.legend(fontsize=8, title="accounting")
    _finish(a2, "FFN FLOPs left (fraction of dense)", "", "FFN FLOPs / dense")
    save_figure(fig, paths, dpi)


def kernel_latency(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """Latency vs activation sparsity per kernel, with the ideal (dense x density) line: the
    analogue of "ReLU Strikes Back" Fig. 10b, on the largest shape benchmarked, 1 thread."""
    k = t["kernels"]
    syn = k[(k.pattern == "synthetic") & k.batch.isna()]
    d_model = syn.d_model.max()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (d, threads) in zip(axes, [(d_model, 1), (d_model, syn.threads.max())], strict=True):
        g = syn[(syn.d_model == d) & (syn.threads == threads)]
        down = g[(g.kernel == "sparse_down") & (g.strategy == "auto")].sort_values("sparsity")
        ax.plot(down.sparsity, down.dense_latency_us, color="k", label="dense (fastest torch)")
        ax.plot(
            down.sparsity,
            down.dense_latency_us * down.density,
            color="k",
            ls=":",
            label="ideal: dense × density",
        )
        for kernel, style in (
            ("sparse_down", "o-"),
            ("torch_gather_down", "x--"),
            ("block_sparse_down", "s-"),
        ):
            sel = g[g.kernel == kernel]
            if kernel in ("sparse_down", "block_sparse_down"):
                sel = sel[sel.strategy == "auto"]
            sel = sel.sort_values("sparsity")
            label = kernel + (" (50% 1×16 blocks)" if kernel == "block_sparse_down" else "")
            ax.plot(sel.sparsity, sel.latency_us_median, style, ms=4, label=label)
        ax.set_yscale("log")
        f = int(g.d_ffn.iloc[0]) if len(g) else 0
        _finish(
            ax,
            f"down projection {int(d)}×{f}, {int(threads)} thread(s)",
            "activation sparsity",
            "latency per call (µs, median)",
        )
        ax.legend(fontsize=7)
    save_figure(fig, paths, dpi)


def aggregated(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """RSB Fig. 7a,b: neurons not yet used after t bytes, per layer, and against s_i^t."""
    df = t["aggregated"]
    obs, rnd = df[df.kind == "observed"], df[df.kind == "random"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.0))
    for layer, g in obs.groupby("layer"):
        a1.plot(g.t, g.unused_frac, lw=1, label=f"layer {layer}")
    mean = obs.groupby("t").unused_frac.mean()
    a1.plot(mean.index, mean.values, "k", lw=2, label="mean")
    _finish(a1, "aggregated sparsity (observed)", "prompt bytes t", "fraction of neurons unused")
    a1.legend(fontsize=7)
    layers = sorted(obs.layer.unique())
    for i, layer in enumerate({layers[0], layers[-1]}):
        for kind, g, style in (("observed", obs, "-"), ("random s_i^t", rnd, "--")):
            sel = g[g.layer == layer]
            a2.plot(sel.t, sel.unused_frac, style, color=f"C{i}", label=f"layer {layer} {kind}")
    a2.set_yscale("log")
    _finish(a2, "observed vs random reuse", "prompt bytes t", "fraction unused (log)")
    a2.legend(fontsize=7)
    save_figure(fig, paths, dpi)


def speculative(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """RSB Fig. 7d and 11: speedups from the measured s_agg(gamma), and the optimal gamma."""
    df = t["speculative"]
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(15, 4.0))
    c = 0.02 if (df.c == 0.02).any() else float(df.c.iloc[0])
    alpha = 0.8 if (df.alpha == 0.8).any() else float(df.alpha.iloc[0])
    sel = df[(df.c == c) & (df.alpha == alpha)]
    for kind in ("aggregated", "random", "aggregated_down"):
        g = sel[sel.kind == kind].sort_values("gamma")
        a1.plot(g.gamma, g.speedup_vs_standard, label=kind)
    _finish(a1, f"sparse over standard speculative (c={c:g})", "gamma", "speedup")
    a1.legend(fontsize=8)
    for kind in ("aggregated", "random", "standard", "aggregated_down"):
        g = sel[sel.kind == kind].sort_values("gamma")
        a2.plot(g.gamma, g.speedup_vs_autoregressive, label=kind)
    _finish(a2, f"over autoregressive (c={c:g}, α={alpha:g})", "gamma", "speedup")
    a2.legend(fontsize=8)
    best = df[df.optimal & df.kind.isin(["aggregated", "aggregated_down", "standard"])]
    for (kind, cc), g in best.groupby(["kind", "c"]):
        g = g.sort_values("alpha")
        a3.plot(g.alpha, g.gamma, marker="o", label=f"{kind}, c={cc:g}")
    _finish(a3, "optimal gamma", "alpha", "gamma")
    a3.legend(fontsize=7)
    save_figure(fig, paths, dpi)


def preact(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """RSB Fig. 5: FFN pre-activation densities per layer, dense / swapped / relufied."""
    df = t["preact"]
    layers = sorted(df.layer.unique())
    fig, axes = plt.subplots(1, len(layers), figsize=(3.2 * len(layers), 3.2), squeeze=False)
    for ax, layer in zip(axes[0], layers, strict=True):
        for variant, g in df[df.layer == layer].groupby("variant", sort=False):
            mid = (g.bin_lo + g.bin_hi) / 2
            above = g.frac_above_zero.iloc[0]
            ax.plot(mid, g.density, lw=1, label=f"{variant} ({above:.0%} > 0)")
        ax.axvline(0, color="k", lw=0.8)
        _finish(ax, f"layer {layer}", "pre-activation", "density")
        ax.legend(fontsize=6)
    save_figure(fig, paths, dpi)


def activation_family(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """RSB Fig. 2: sparsity over training per beta, and the final ce and sparsity per beta."""
    df = t["activation_family"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.0))
    curve = df[df.row_type == "curve"]
    for beta, g in curve.groupby("beta"):
        g = g.sort_values("step")
        a1.plot(g.step, g.act_sparsity, marker=".", label=f"β={beta:g}")
    _finish(a1, "sparsity over training (from scratch)", "step", "act_sparsity")
    a1.legend(fontsize=8)
    final = df[df.row_type == "final"].sort_values("beta")
    labels = [f"{b:g}" for b in final.beta]
    a2.bar(labels, final.act_sparsity, color="C0", alpha=0.6, label="act_sparsity")
    a2b = a2.twinx()
    a2b.plot(labels, final.ce, "o-", color="C3", label="ce")
    a2b.set_ylabel("final ce (nats/byte)")
    _finish(a2, "final sparsity and ce per β", "β", "act_sparsity")
    save_figure(fig, paths, dpi)


def stage2(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """RSB Table 1: input sparsity of QKV, up and down, and FLOPs per byte, per stage."""
    df = t["stage2"]
    final = df[df.row_type == "final"].set_index("variant").loc[["stage1", "stage2"]]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.0))
    cols = ["qkv_in_sparsity", "up_in_sparsity", "down_in_sparsity"]
    final[cols].rename(columns=lambda c: c.removesuffix("_in_sparsity")).plot.bar(ax=a1, rot=0)
    _finish(a1, "input sparsity per projection", "", "fraction exactly zero")
    a2.bar(final.index, final.flops_frac_of_dense, color="C2")
    for i, (f, d) in enumerate(zip(final.flops_frac_of_dense, final.delta_ce, strict=True)):
        a2.annotate(f"{f:.0%}, Δce {d:+.3f}", (i, f), ha="center", va="bottom", fontsize=8)
    _finish(a2, "FLOPs per byte (skipping zero inputs)", "", "fraction of dense")
    save_figure(fig, paths, dpi)


def shifted_relu(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """RSB Fig. 8: shifted ReLU against the plain ReLU fine-tune (relufy_lam0), over steps."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.0))
    relu = t["relufy"][(t["relufy"].variant == "relufy_lam0") & (t["relufy"].row_type == "curve")]
    sh = t["shifted_relu"][t["shifted_relu"].row_type == "curve"]
    b = sh["shift"].dropna().iloc[0] if sh["shift"].notna().any() else float("nan")
    for label, g in ((f"shifted ReLU (b={b:.3g})", sh), ("ReLU", relu)):
        g = g.sort_values("step")
        a1.plot(g.step, g.delta_ce, marker=".", label=label)
        a2.plot(g.step, g.act_sparsity, marker=".", label=label)
    a1.set_yscale("symlog", linthresh=0.01)
    _finish(a1, "quality", "step", "delta_ce (nats/byte)")
    _finish(a2, "sparsity", "step", "act_sparsity")
    a1.legend(fontsize=8)
    save_figure(fig, paths, dpi)


def reuse(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """RSB Fig. 7c: perplexity with reused vs random neuron sets per window length."""
    df = t["reuse"]
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    for kind, style in (("reuse", "o-"), ("random", "s--"), ("none", "k:")):
        g = df[df.kind == kind].sort_values("gamma")
        ax.plot(g.gamma, g.ppl, style, label=kind)
    ax.set_xscale("log", base=2)
    _finish(ax, "reusing the previous window's neurons", "window γ (bytes)", "perplexity per byte")
    ax.legend(fontsize=8)
    save_figure(fig, paths, dpi)


def speculative_decode(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """RSB Sec. 5.2 measured: wall-clock speedups beside the formula fed with measured c,
    alpha and s_agg."""
    df = t["speculative_decode"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.0))
    for i, (kind, label) in enumerate(
        (("standard", "dense verify"), ("aggregated", "sparse verify"))
    ):
        g = df[df.kind == kind].sort_values("gamma")
        a1.plot(
            g.gamma, g.speedup_vs_autoregressive, "o-", color=f"C{i}", label=f"{label}, measured"
        )
        a1.plot(
            g.gamma,
            g.predicted_speedup_vs_autoregressive,
            "x--",
            color=f"C{i}",
            label=f"{label}, formula",
        )
    a1.axhline(1.0, color="grey", lw=0.8)
    a1.set_xscale("log", base=2)
    _finish(a1, "over autoregressive decoding (dense path)", "gamma", "speedup")
    a1.legend(fontsize=8)
    g = df[df.kind == "aggregated"].sort_values("gamma")
    a2.plot(g.gamma, g.speedup_vs_standard, "o-", label="measured")
    a2.plot(g.gamma, g.predicted_speedup_vs_standard, "x--", label="formula (down share)")
    a2.axhline(1.0, color="grey", lw=0.8)
    a2.set_xscale("log", base=2)
    _finish(a2, "sparse over dense verification", "gamma", "speedup")
    a2.legend(fontsize=8)
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
}
FIGURE_TABLES = {name: tables for name, (_, tables) in FIGURES.items()}


def draw(name: str, tables: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    if name not in FIGURES:
        raise KeyError(f"unknown figure {name!r}; known: {sorted(FIGURES)}")
    FIGURES[name][0](tables, paths, dpi)
