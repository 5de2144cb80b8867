"""The relufication frontier: every fine-tuned variant's end point as (act_sparsity,
delta_ce_matched), which of them are Pareto-optimal, and the one the combined stage takes.

The choice of "best" is a rule fixed before any run: the sparsest end point whose
delta_ce_matched is within the budget; when none is, the one closest to the control
(lowest delta_ce_matched), so the combined stage always has something to run.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from actsparse.methods.schedules import L1Schedule
from actsparse.report.tables import end_points


def pareto_mask(sparsity: pd.Series, cost: pd.Series) -> pd.Series:
    """True where no other point has at least the sparsity at no more cost (one strictly)."""
    on = []
    for i in sparsity.index:
        dominated = (
            (sparsity >= sparsity[i])
            & (cost <= cost[i])
            & ((sparsity > sparsity[i]) | (cost < cost[i]))
        )
        on.append(not dominated.any())
    return pd.Series(on, index=sparsity.index)


def pick_best(points: pd.DataFrame, max_delta_ce_matched: float) -> str:
    """The variant the combined stage takes (see the module docstring for the rule)."""
    ok = points[points.delta_ce_matched <= max_delta_ce_matched]
    if len(ok):
        return str(ok.act_sparsity.idxmax())
    return str(points.delta_ce_matched.idxmin())


def frontier_rows(
    relufy: pd.DataFrame, schedules: dict[str, L1Schedule], max_delta_ce_matched: float
) -> list[dict[str, Any]]:
    """One row per relufy variant with a matched end point; schedules by name, from config."""
    pts = end_points(relufy)
    pts = pts[pts.delta_ce_matched.notna()]
    if pts.empty:
        raise ValueError("no relufy variant has a delta_ce_matched: was dense_control run?")
    front = pareto_mask(pts.act_sparsity, pts.delta_ce_matched)
    best = pick_best(pts, max_delta_ce_matched)
    rows = []
    for v, p in pts.iterrows():
        s = schedules[p.schedule]
        fat = p.fat_threshold if pd.notna(p.fat_threshold) else None
        rows.append(
            {
                "variant": v,
                "schedule": s.name,
                "ramp": s.ramp,
                "peak": s.peak,
                "stages": s.stages,
                "ramp_frac": s.ramp_frac,
                "mean_lam": s.mean_lam(int(p.step)) if p.step else s.peak,
                "fat_threshold": fat,
                "act_sparsity": p.act_sparsity,
                "ce": p.ce,
                "delta_ce": p.delta_ce,
                "delta_ce_matched": p.delta_ce_matched,
                "on_front": bool(front[v]),
                "best": v == best,
            }
        )
    return rows


def best_row(frontier: pd.DataFrame) -> tuple[L1Schedule, float | None]:
    """The schedule and FATReLU threshold of the frontier's best variant."""
    best = frontier[frontier.best]
    if len(best) != 1:
        raise ValueError(f"the frontier table marks {len(best)} best variants, not 1")
    b = best.iloc[0]
    schedule = L1Schedule(
        name=b.schedule, ramp=b.ramp, peak=b.peak, stages=int(b.stages), ramp_frac=b.ramp_frac
    )
    return schedule, (None if pd.isna(b.fat_threshold) else float(b.fat_threshold))
