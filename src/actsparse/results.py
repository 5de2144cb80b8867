"""Reading stage tables back: the end point of every variant, the way every consumer
(FLOP accounting, the refuted log, figures) needs it, defined once."""

from __future__ import annotations

import pandas as pd


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
