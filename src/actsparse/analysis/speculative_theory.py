"""Sparse speculative decoding, in the latency model of "ReLU Strikes Back" (Appendix C).

A draft model c times cheaper than the target proposes gamma bytes; the target verifies
them in one pass whose cost, with activation sparsity, is (1 - s_agg(gamma)) of a dense pass,
s_agg(gamma) being the fraction of neurons the gamma bytes leave unused (memory-bound
decoding: cost ~ weights loaded). Acceptances are i.i.d. with probability alpha.
"""

from __future__ import annotations

from typing import Any


def speedup_vs_standard(c: float, gamma: int, s_agg: float) -> float:
    """Theorem 1: sparse over standard speculative decoding, (c g + 1) / (c g + 1 - s)."""
    return (c * gamma + 1.0) / (c * gamma + 1.0 - s_agg)


def speedup_vs_autoregressive(c: float, gamma: int, s_agg: float, alpha: float) -> float:
    """Theorem 2: (1 - alpha^(g+1)) / ((c g + 1 - s)(1 - alpha)); s = 0 is the standard
    speculative decoding of Leviathan et al."""
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"alpha must be in [0, 1), got {alpha}")
    return (1.0 - alpha ** (gamma + 1)) / ((c * gamma + 1.0 - s_agg) * (1.0 - alpha))


def formula_rows(
    s_agg: dict[str, dict[int, float]],
    cs: list[float],
    alphas: list[float],
    down_share: float = 1.0,
) -> list[dict[str, Any]]:
    """Every (kind, c, alpha, gamma): both speedups; `optimal` marks the gamma that
    maximises the speedup over autoregressive decoding for that kind, c and alpha.

    s_agg: kind ("observed" aggregated, "random" baseline) -> gamma -> s_agg; the kind
    "standard" (no sparsity) is added here. RSB's latency model lets the sparsity cut the
    whole target pass; kind "aggregated_down" lets it cut only the down projection's share
    of the pass (`down_share`, e.g. its share of the FLOPs), what an engine without an
    active-neuron predictor can skip.
    """
    kinds = {"aggregated": s_agg["observed"], "random": s_agg["random"]}
    kinds["standard"] = {g: 0.0 for g in s_agg["observed"]}
    kinds["aggregated_down"] = {g: down_share * s for g, s in s_agg["observed"].items()}
    rows = []
    for kind, by_gamma in kinds.items():
        for c in cs:
            for alpha in alphas:
                block = [
                    {
                        "kind": kind,
                        "source": "formula",
                        "c": c,
                        "alpha": alpha,
                        "gamma": g,
                        "s_agg": s,
                        "speedup_vs_standard": speedup_vs_standard(c, g, s),
                        "speedup_vs_autoregressive": speedup_vs_autoregressive(c, g, s, alpha),
                    }
                    for g, s in sorted(by_gamma.items())
                ]
                best = max(block, key=lambda r: r["speedup_vs_autoregressive"])
                rows += [{**r, "optimal": r is best} for r in block]
    return rows
