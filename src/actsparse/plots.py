"""Figures, drawn from Parquet tables alone: a plot never recomputes science."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

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
