"""The pretrained model's figure: every method on one axis (bits per byte) against the
exact zeros it leaves, and zero-shot accuracy against the same zeros, so the training-free
thresholds, the hard swap and the relufied models can be read side by side."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from actsparse.report import tables as results
from actsparse.report.figure_style import finish, label, plt, save_figure


def pretrained_sparsity(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """(a) act_sparsity vs bpb: dense, thresholds per target, hard swap, each relufied end
    point and the matched control; (b) mean zero-shot acc (± its standard error) of each
    variant scored, against the same zeros."""
    q, z = t["pretrained_quality"], t["pretrained_zeroshot"]
    r, c = t["pretrained_relufy"], t["pretrained_control"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10.5, 4.0))
    th = q[q.method == "thresholds"].sort_values("act_sparsity")
    a.plot(th.act_sparsity, th.bpb, marker="o", label="thresholds (training-free)")
    for m, marker, color in (("dense", "D", "k"), ("hard_swap", "X", "C3")):
        row = q[q.method == m]
        a.scatter(row.act_sparsity, row.bpb, marker=marker, color=color, s=60, label=m)
    ends = results.end_points(r)
    a.scatter(
        ends.act_sparsity, ends.bpb, marker="^", color="C2", s=50, label="relufied (end points)"
    )
    for p in ends[ends.row_type == "curve"].itertuples():
        label(a, p.variant.removeprefix("relufy_"), (p.act_sparsity, p.bpb))
    last = results.end_points(c)
    a.scatter(last.act_sparsity, last.bpb, marker="s", color="C1", s=50, label="control (SiLU)")
    if len(q[q.method == "hard_swap"]) and q.bpb.max() > 4 * q.bpb.min():
        a.set_yscale("log")  # the hard swap is off the scale of the rest
    a.legend(fontsize=7)
    finish(a, "zeros vs bits per byte (val)", "act_sparsity", "bpb")
    mean = z[z.task == "mean"]
    # each scored variant's zeros: its quality row, or its fine-tune's end point
    zeros = dict(zip(q.variant, q.act_sparsity, strict=True))
    for df in (r, c):
        zeros.update(results.end_points(df[df.row_type == "curve"]).act_sparsity.to_dict())
    mean = mean.assign(act_sparsity=mean.variant.map(zeros)).dropna(subset=["act_sparsity"])
    b.errorbar(mean.act_sparsity, mean.acc, yerr=mean.acc_stderr, fmt="o", capsize=3)
    for p in mean.itertuples():
        label(b, p.variant, (p.act_sparsity, p.acc))
    if len(mean):
        b.axhline(mean.chance.iloc[0], color="grey", lw=0.8, ls="--", label="chance")
        b.legend(fontsize=7)
    finish(b, "zero-shot accuracy (mean over tasks)", "act_sparsity", "acc")
    save_figure(fig, paths, dpi)


def pretrained_analysis(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """RSB Fig. 5 and Fig. 7a,b on the pretrained model: the gate's pre-activation density in
    its first, middle and last layer per variant, and the neurons not yet used after t
    prompt tokens (mean over layers) against s_i^t, per variant with exact zeros."""
    pre, agg = t["pretrained_preact"], t["pretrained_aggregated"]
    layers = sorted(pre.layer.unique())
    shown = sorted({layers[0], layers[len(layers) // 2], layers[-1]})
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(3.6 * (len(shown) + 1), 3.4))
    for ax, layer in zip(axes[:-1], shown, strict=True):
        for variant, g in pre[pre.layer == layer].groupby("variant", sort=False):
            above = g.frac_above_zero.iloc[0]
            ax.plot(
                (g.bin_lo + g.bin_hi) / 2, g.density, lw=1, label=f"{variant} ({above:.0%} > 0)"
            )
        ax.axvline(0, color="k", lw=0.8)
        finish(ax, f"gate pre-activation, layer {layer}", "pre-activation", "density")
        ax.legend(fontsize=6)
    ax = axes[-1]
    sparsity = agg.groupby("variant", sort=False).act_sparsity.mean()
    sparse = agg[agg.variant.isin(sparsity[sparsity > 0.05].index)]  # SiLU: no exact zeros
    for i, (variant, g) in enumerate(sparse.groupby("variant", sort=False)):
        for kind, style in (("observed", "-"), ("random", "--")):
            m = g[g.kind == kind].groupby("t").unused_frac.mean()
            ax.plot(m.index, m.values, style, color=f"C{i}", label=f"{variant} {kind}")
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 1)  # s_i^t falls to ~0 within tens of tokens
    finish(ax, "aggregated sparsity (mean over layers)", "prompt tokens t", "fraction unused")
    ax.legend(fontsize=6)
    save_figure(fig, paths, dpi)


def pretrained_decode(t: dict[str, pd.DataFrame], paths: Sequence[str | Path], dpi: int) -> None:
    """Tokens/s of batch-1 greedy decoding per variant and path (ours, fp32), with llama.cpp's
    formats on the dense model as reference lines, one panel per thread count."""
    d = t["pretrained_decode"]
    d = d[d.status == "ok"]
    threads = sorted(d.threads.unique())
    fig, axes = plt.subplots(1, len(threads), figsize=(6.4 * len(threads), 3.8), squeeze=False)
    ours = d[d.engine == "actsparse"]
    variants = list(dict.fromkeys(ours.variant))
    paths_ = [p for p in ("dense", "sparse", "screened") if p in set(ours.path)]
    width = 0.8 / max(len(paths_), 1)
    for ax, n in zip(axes[0], threads, strict=True):
        here = ours[ours.threads == n]
        for j, path in enumerate(paths_):
            rows = here[here.path == path].set_index("variant").reindex(variants)
            x = [i + (j - (len(paths_) - 1) / 2) * width for i in range(len(variants))]
            ax.bar(x, rows.tokens_per_s, width, label=f"ours, {path}", color=f"C{j}")
        lcpp = d[(d.engine == "llama.cpp") & (d.threads == n)]
        for k, (_, r) in enumerate(lcpp.iterrows()):
            ax.axhline(
                r.tokens_per_s, ls="--", lw=1, color=f"C{k + 3}", label=f"llama.cpp {r.weights}"
            )
        ax.set_xticks(range(len(variants)), variants, rotation=30, ha="right", fontsize=7)
        finish(
            ax, f"decode, {n} thread(s) ({d.cpu_model.iloc[0]}, {d.isa.iloc[0]})", "", "tokens / s"
        )
        ax.legend(fontsize=6)
    save_figure(fig, paths, dpi)
