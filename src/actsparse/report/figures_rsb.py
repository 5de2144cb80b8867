"""The figures of the RSB analyses and of the inference side (kernels, speculative
decoding), drawn from Parquet tables alone."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from actsparse.report.figure_style import finish, plt, save_figure


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
            ("read_ceiling_down", "^:"),  # the active rows read, nothing computed: the bound
        ):
            sel = g[g.kernel == kernel]
            if kernel in ("sparse_down", "block_sparse_down"):
                sel = sel[sel.strategy == "auto"]
            sel = sel.sort_values("sparsity")
            label = kernel + {
                "block_sparse_down": " (50% 1×16 blocks)",
                "read_ceiling_down": " (rows read only)",
            }.get(kernel, "")
            ax.plot(sel.sparsity, sel.latency_us_median, style, ms=4, label=label)
        ax.set_yscale("log")
        f = int(g.d_ffn.iloc[0]) if len(g) else 0
        finish(
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
    finish(a1, "aggregated sparsity (observed)", "prompt bytes t", "fraction of neurons unused")
    a1.legend(fontsize=7)
    layers = sorted(obs.layer.unique())
    for i, layer in enumerate({layers[0], layers[-1]}):
        for kind, g, style in (("observed", obs, "-"), ("random s_i^t", rnd, "--")):
            sel = g[g.layer == layer]
            a2.plot(sel.t, sel.unused_frac, style, color=f"C{i}", label=f"layer {layer} {kind}")
    a2.set_yscale("log")
    finish(a2, "observed vs random reuse", "prompt bytes t", "fraction unused (log)")
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
    finish(a1, f"sparse over standard speculative (c={c:g})", "gamma", "speedup")
    a1.legend(fontsize=8)
    for kind in ("aggregated", "random", "standard", "aggregated_down"):
        g = sel[sel.kind == kind].sort_values("gamma")
        a2.plot(g.gamma, g.speedup_vs_autoregressive, label=kind)
    finish(a2, f"over autoregressive (c={c:g}, α={alpha:g})", "gamma", "speedup")
    a2.legend(fontsize=8)
    best = df[df.optimal & df.kind.isin(["aggregated", "aggregated_down", "standard"])]
    for (kind, cc), g in best.groupby(["kind", "c"]):
        g = g.sort_values("alpha")
        a3.plot(g.alpha, g.gamma, marker="o", label=f"{kind}, c={cc:g}")
    finish(a3, "optimal gamma", "alpha", "gamma")
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
        finish(ax, f"layer {layer}", "pre-activation", "density")
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
    finish(a1, "sparsity over training (from scratch)", "step", "act_sparsity")
    a1.legend(fontsize=8)
    final = df[df.row_type == "final"].sort_values("beta")
    labels = [f"{b:g}" for b in final.beta]
    a2.bar(labels, final.act_sparsity, color="C0", alpha=0.6, label="act_sparsity")
    a2b = a2.twinx()
    a2b.plot(labels, final.ce, "o-", color="C3", label="ce")
    a2b.set_ylabel("final ce (nats/byte)")
    finish(a2, "final sparsity and ce per β", "β", "act_sparsity")
    save_figure(fig, paths, dpi)


def stage2(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """RSB Table 1: input sparsity of QKV, up and down, and FLOPs per byte, per stage."""
    df = t["stage2"]
    final = df[df.row_type == "final"].set_index("variant").loc[["stage1", "stage2"]]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.0))
    cols = ["qkv_in_sparsity", "up_in_sparsity", "down_in_sparsity"]
    final[cols].rename(columns=lambda c: c.removesuffix("_in_sparsity")).plot.bar(ax=a1, rot=0)
    finish(a1, "input sparsity per projection", "", "fraction exactly zero")
    a2.bar(final.index, final.flops_frac_of_dense, color="C2")
    for i, (f, d) in enumerate(zip(final.flops_frac_of_dense, final.delta_ce, strict=True)):
        a2.annotate(f"{f:.0%}, Δce {d:+.3f}", (i, f), ha="center", va="bottom", fontsize=8)
    finish(a2, "FLOPs per byte (skipping zero inputs)", "", "fraction of dense")
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
    finish(a1, "quality", "step", "delta_ce (nats/byte)")
    finish(a2, "sparsity", "step", "act_sparsity")
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
    finish(ax, "reusing the previous window's neurons", "window γ (bytes)", "perplexity per byte")
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
    finish(a1, "over autoregressive decoding (dense path)", "gamma", "speedup")
    a1.legend(fontsize=8)
    g = df[df.kind == "aggregated"].sort_values("gamma")
    a2.plot(g.gamma, g.speedup_vs_standard, "o-", label="measured")
    a2.plot(g.gamma, g.predicted_speedup_vs_standard, "x--", label="formula (down share)")
    a2.axhline(1.0, color="grey", lw=0.8)
    a2.set_xscale("log", base=2)
    finish(a2, "sparse over dense verification", "gamma", "speedup")
    a2.legend(fontsize=8)
    save_figure(fig, paths, dpi)


def cett_methods(df: pd.DataFrame, paths: Sequence[str | Path], dpi: int, title: str) -> None:
    """Per variant, the inactive share at each PPL rise (CETT-PPL-p%) beside the variant's
    own exact zeros; a variant already past the rise at CETT 0 is marked, not hidden."""
    rises = sorted(df.rise.unique())
    variants = list(dict.fromkeys(df.variant))
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(variants) + 1.6))
    height = 0.8 / (len(rises) + 1)
    at = df.set_index(["variant", "rise"])
    exact = df.groupby("variant").exact_sparsity.first()
    y = range(len(variants))
    ax.barh([i for i in y], [exact[v] for v in variants], height, color="grey", label="exact zeros")
    for j, p in enumerate(rises, start=1):
        vals = [at.loc[(v, p), "act_sparsity"] for v in variants]
        ax.barh([i + j * height for i in y], vals, height, label=f"PPL + {p:.0%}")
        for i, v in enumerate(variants):
            if not at.loc[(v, p), "within"]:
                ax.annotate("past at CETT 0", (0.01, i + j * height), va="center", fontsize=6)
    ax.set_yticks([i + height * len(rises) / 2 for i in y], variants, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.legend(fontsize=7, loc="best")
    finish(ax, title, "inactive share at the down projection's input", "")
    save_figure(fig, paths, dpi)


def cett(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    cett_methods(t["cett"], paths, dpi, "CETT-PPL-p% sparsity, byte model")


def pretrained_cett(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    cett_methods(t["pretrained_cett"], paths, dpi, "CETT-PPL-p% sparsity, pretrained model")
