"""What every figure shares: a headless backend, the saving, axis finishing, point labels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LN2 = 0.6931471805599453


def save_figure(fig: plt.Figure, paths: Sequence[str | Path], dpi: int) -> None:
    for p in paths:
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=dpi, bbox_inches="tight")
    plt.close(fig)


def finish(ax: plt.Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def label(ax: plt.Axes, text: str, xy: tuple[float, float], fontsize: int = 7) -> None:
    """A point's label, set just above and right of it."""
    ax.annotate(text, xy, fontsize=fontsize, xytext=(3, 3), textcoords="offset points")
