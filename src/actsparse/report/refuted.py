"""The refuted-approaches log: every approach tried, its numbers, its bar, and the verdict.

Bars come from the config (`refuted_log`), written before any run. The log is generated
from the stage tables, so it can never disagree with them. A fine-tune's quality bar is
judged on `delta_ce_matched` (against the dense model fine-tuned with the same budget)
wherever the stage has that control; the unmatched `delta_ce` is shown beside it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from actsparse.report.tables import end_points


def _row(stage: str, variant: str, bar: str, refuted: bool, why: str, **nums: Any) -> dict:
    return {
        "stage": stage,
        "variant": variant,
        "bar": bar,
        "refuted": bool(refuted),
        "why": why,
        **{k: float(v) for k, v in nums.items() if v is not None},
    }


def gating_verdict(gating: pd.DataFrame, bars: dict) -> dict:
    """The largest down-projection saving whose quality cost stays within the budget."""
    ok = gating[gating.within_budget]
    best = ok.loc[ok.down_flops_saved.idxmax()] if len(ok) else None
    budget = float(gating.max_rel_ce.iloc[0])
    saving = float(best.down_flops_saved) if best is not None else 0.0
    model = float(best.model_flops_saved) if best is not None else 0.0
    variant = best.variant if best is not None else "no tau within budget"
    refuted = saving < bars["gating_min_saving"]
    why = (
        f"the best tau within the quality budget ({variant}) zeroes {saving:.1%} of the "
        f"down projection, {model:.1%} of the model's FLOPs"
    )
    if refuted:
        why += ": the small GELU values carry information"
    return _row(
        "naive_gating",
        variant,
        f"saves >= {bars['gating_min_saving']:.0%} of the down projection at rel_ce <= {budget:g}",
        refuted,
        why,
        saving=saving,
        act_sparsity=saving,
        delta_ce=best.delta_ce if best is not None else None,
        rel_ce=best.rel_ce if best is not None else None,
    )


def hard_swap_verdict(hard: pd.DataFrame, bars: dict) -> dict:
    r = end_points(hard).iloc[0]
    refuted = r.rel_ce > bars["hard_swap_max_rel_ce"]
    why = f"{r.act_sparsity:.1%} zeros at cross-entropy {r.rel_ce:+.1%}"
    if refuted:
        why += (
            ": the weights were trained for GELU's negative regime, so the zeros land in "
            "the wrong places"
        )
    return _row(
        "hard_swap",
        r.variant,
        f"rel_ce <= {bars['hard_swap_max_rel_ce']:g} without retraining",
        refuted,
        why,
        act_sparsity=r.act_sparsity,
        delta_ce=r.delta_ce,
        rel_ce=r.rel_ce,
    )


def sparsity_verdicts(
    df: pd.DataFrame,
    stage: str,
    bars: dict,
    max_delta: float,
    min_weight: float | None = None,
    ref_ce: float | None = None,
) -> list:
    """Variants that must reach min_act_sparsity within max_delta (and min_weight)."""
    rows = []
    for v, r in end_points(df).iterrows():
        delta = r.delta_ce if ref_ce is None else r.ce - ref_ce
        matched = r.get("delta_ce_matched")
        judged = "delta_ce" if ref_ce is not None or pd.isna(matched) else "delta_ce_matched"
        cost = delta if judged == "delta_ce" else matched
        ws = r.get("weight_sparsity")
        misses = []
        if r.act_sparsity < bars["min_act_sparsity"]:
            misses.append(f"act_sparsity {r.act_sparsity:.3f} < {bars['min_act_sparsity']}")
        if cost > max_delta:
            misses.append(f"{judged} {cost:+.3f} > {max_delta}")
        if min_weight is not None and (pd.isna(ws) or ws < min_weight):
            misses.append(f"weight_sparsity {ws:.3f} < {min_weight}")
        bar = f"act_sparsity >= {bars['min_act_sparsity']}, {judged} <= {max_delta}"
        if min_weight is not None:
            bar += f", weight_sparsity >= {min_weight}"
        why = "; ".join(misses) if misses else "meets its bar"
        rows.append(
            _row(
                stage,
                v,
                bar,
                bool(misses),
                why,
                act_sparsity=r.act_sparsity,
                delta_ce=delta,
                delta_ce_matched=None if pd.isna(matched) else matched,
                weight_sparsity=None if pd.isna(ws) else ws,
            )
        )
    return rows


def prune_verdicts(prune: pd.DataFrame, bars: dict) -> list:
    rows = []
    for v, r in end_points(prune).iterrows():
        matched = r.get("delta_ce_matched")
        judged = "delta_ce" if pd.isna(matched) else "delta_ce_matched"
        cost = r.delta_ce if judged == "delta_ce" else matched
        bad = cost > bars["prune_max_delta_ce"]
        why = f"after recovery {judged} {cost:+.4f} at {r.weight_sparsity:.1%} zero weights"
        rows.append(
            _row(
                "prune",
                v,
                f"{judged} <= {bars['prune_max_delta_ce']} after recovery",
                bad,
                why,
                weight_sparsity=r.weight_sparsity,
                delta_ce=r.delta_ce,
                delta_ce_matched=None if pd.isna(matched) else matched,
            )
        )
    return rows


def refuted_rows(tables: dict[str, pd.DataFrame], bars: dict) -> list[dict]:
    rows = [
        gating_verdict(tables["naive_gating"], bars),
        hard_swap_verdict(tables["hard_swap"], bars),
    ]
    rows += sparsity_verdicts(
        tables["relufy"], "relufy_finetune", bars, bars["relufy_max_delta_ce"]
    )
    scratch = tables["scratch"]
    gelu = end_points(scratch[scratch.activation == "gelu"])
    if len(gelu):
        relu = scratch[scratch.activation != "gelu"]
        rows += sparsity_verdicts(
            relu, "scratch", bars, bars["relufy_max_delta_ce"], ref_ce=float(gelu.ce.iloc[0])
        )
    rows += prune_verdicts(tables["prune"], bars)
    rows += sparsity_verdicts(
        tables["combined"],
        "combined_sparsity",
        bars,
        bars["combined_max_delta_ce"],
        bars["combined_min_weight_sparsity"],
    )
    return rows


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and pd.isna(x)):
        return "–"
    return f"{x:.1%}" if pct else f"{x:+.4f}"


def render_markdown(rows: list[dict], run_name: str) -> str:
    lines = [
        f"# Refuted approaches — run `{run_name}`",
        "",
        "Generated by the `refuted_log` rule from `tables/*.parquet`; bars from the config "
        "section `refuted_log`, fixed before the run. `delta_ce` is nats per byte against the "
        "dense GELU model on the fixed validation windows (scratch: against GELU from scratch "
        "at the same budget); `matched` is against the dense model fine-tuned with the same "
        "budget on the same batches, and is what the bar judges wherever a stage has it.",
        "",
    ]
    for title, refuted in (("Refuted", True), ("Held", False)):
        sel = [r for r in rows if r["refuted"] == refuted]
        lines += [f"## {title} ({len(sel)})", ""]
        if not sel:
            lines += ["None.", ""]
            continue
        lines += [
            "| stage | variant | zeros | weights | delta_ce | matched | bar | why |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in sel:
            lines.append(
                f"| {r['stage']} | {r['variant']} | {_fmt(r.get('act_sparsity'), True)} | "
                f"{_fmt(r.get('weight_sparsity'), True)} | {_fmt(r.get('delta_ce'))} | "
                f"{_fmt(r.get('delta_ce_matched'))} | "
                f"{r['bar']} | {r['why']} |"
            )
        lines.append("")
    return "\n".join(lines)
