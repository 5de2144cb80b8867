"""Tokens/s of a Llama-family model: each of our engine's paths, and llama.cpp on the same
weights, same prompt tokens, same number of new tokens and threads (greedy, batch 1).

Each path's speed is the best of `repeats` runs, the paths taking turns within a repeat so
a drift of this shared VM's speed hits all of them alike. Beside the measured speedup over
our dense path stands the byte-ideal one: the weights a token reads on that path (the FFN
rows it actually computed, counted by the engine, plus the int8 gate the screen reads)
against the dense path's; KV-cache reads are left out of both (under 7% of a token's bytes
at 256 positions). Measured over ideal is the fraction of ideal (as in the kernels table).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from actsparse.inference import kernels as K
from actsparse.inference import llamacpp as LC
from actsparse.inference.llama_decode import EngineSettings, LlamaEngine, paths_for


@dataclass(frozen=True)
class DecodeSetup:
    prompt: list[int]
    new_tokens: int
    threads: Sequence[int]
    repeats: int


def weight_counts(lm) -> dict[str, int]:  # noqa: ANN001
    """Parameters read per token outside the FFN (attention, head) and per FFN projection."""
    cfg = lm.hf.config
    hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    D, F, L = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    attn = L * D * hd * (2 * cfg.num_attention_heads + 2 * cfg.num_key_value_heads)
    return {"fixed": attn + cfg.vocab_size * D, "projection": L * F * D}


def ideal_speedup(counts: dict[str, int], rows: dict[str, float], screened: bool) -> float:
    """Dense bytes per token over this path's: fp32 weights, plus 1 byte a weight for the
    screen's int8 gate."""
    dense = 4 * (counts["fixed"] + 3 * counts["projection"])
    ffn = rows["gate_rows"] + rows["up_rows"] + rows["down_rows"]
    path = 4 * (counts["fixed"] + ffn * counts["projection"])
    return dense / (path + (counts["projection"] if screened else 0))


def engine_rows(variant: str, lm, setup: DecodeSetup) -> list[dict]:  # noqa: ANN001
    """Every path the variant's gate allows, at every thread count."""
    rows = []
    paths = paths_for(lm)
    counts = weight_counts(lm)
    max_tokens = len(setup.prompt) + setup.new_tokens
    for threads in setup.threads:
        engines = {
            p: LlamaEngine(lm, EngineSettings(path=p, threads=threads, max_tokens=max_tokens))
            for p in paths
        }
        best: dict[str, tuple[list[int], float, dict[str, float]]] = {}
        for _ in range(setup.repeats):
            for p, engine in engines.items():
                out, tps = engine.generate(setup.prompt, setup.new_tokens)
                if p not in best or tps > best[p][1]:
                    best[p] = (out, tps, engine.row_fractions())
        dense_out, dense_tps, _ = best["dense"]
        for p, (out, tps, fr) in best.items():
            ideal = ideal_speedup(counts, fr, p == "screened")
            rows.append(
                {
                    "engine": "actsparse",
                    "variant": variant,
                    "path": p,
                    "weights": "fp32",
                    "threads": threads,
                    "prompt_tokens": len(setup.prompt),
                    "new_tokens": setup.new_tokens,
                    "tokens_per_s": tps,
                    "speedup_vs_dense_path": tps / dense_tps,
                    "ideal_speedup": ideal,
                    "fraction_of_ideal": tps / dense_tps / ideal,
                    "act_sparsity": fr["act_sparsity"],
                    "gate_rows": fr["gate_rows"],
                    "up_rows": fr["up_rows"],
                    "down_rows": fr["down_rows"],
                    "greedy_identical": out == dense_out,
                    "tokens": out,
                    "huge_pages": engines[p].huge_pages,
                    "status": "ok",
                    "isa": engines[p].isa,
                    "cpu_model": K.cpu_model(),
                }
            )
        speeds = {r["path"]: round(r["tokens_per_s"], 1) for r in rows[-len(paths) :]}
        print(f"{variant}, {threads} thread(s): tokens/s {speeds}", file=sys.stderr, flush=True)
    return rows


def _llamacpp_row(variant: str, fmt: str, threads: int, setup: DecodeSetup, status: str) -> dict:
    """What every llama.cpp row carries, run or not."""
    return {
        "engine": "llama.cpp",
        "variant": variant,
        "path": "dense",
        "weights": fmt,
        "threads": threads,
        "prompt_tokens": len(setup.prompt),
        "new_tokens": setup.new_tokens,
        "status": status,
        "cpu_model": K.cpu_model(),
    }


def not_run(variant: str, fmt: str, setup: DecodeSetup, why: str) -> list[dict]:
    return [_llamacpp_row(variant, fmt, t, setup, f"not run: {why}") for t in setup.threads]


def llamacpp_rows(
    gguf: Path | None, formats: Sequence[str], setup: DecodeSetup, work: Path
) -> list[dict]:
    """llama.cpp on the dense model in each format (the shipped GGUF as it is, F32 and Q8_0
    copies of it), or rows saying why it did not run."""
    rows: list[dict] = []
    if not formats:
        return rows
    why = None
    if gguf is None:
        why = "the model source is not a GGUF file (llama.cpp reads GGUF only)"
    else:
        try:
            LC.load()
        except LC.LlamaCppUnavailable as e:
            why = str(e)
    if why:
        return [r for fmt in formats for r in not_run("dense", fmt, setup, why)]
    shipped, isa = LC.gguf_type(gguf), LC.build_isa()
    for fmt in formats:
        path = gguf if fmt == shipped else LC.convert_gguf(gguf, work / f"{fmt}.gguf", fmt)
        for threads in setup.threads:
            model = LC.LlamaCppModel(path, threads, n_ctx=len(setup.prompt) + setup.new_tokens)
            runs = [model.generate(setup.prompt, setup.new_tokens) for _ in range(setup.repeats)]
            best = max(runs, key=lambda r: r.tokens_per_s)
            rows.append(
                _llamacpp_row("dense", fmt, threads, setup, "ok")
                | {"tokens_per_s": best.tokens_per_s, "tokens": best.tokens, "isa": isa}
            )
            print(f"llama.cpp {fmt} x{threads}: {best.tokens_per_s:.1f} tok/s", file=sys.stderr)
    return rows


def relufied_llamacpp_rows(variants: Sequence[str], setup: DecodeSetup) -> list[dict]:
    """llama.cpp cannot run a ReLU-gated Llama (see llamacpp.RELU_GATE_REASON)."""
    return [
        r for v in variants if v != "dense" for r in not_run(v, "F32", setup, LC.RELU_GATE_REASON)
    ]


def compare(rows: list[dict]) -> list[dict]:
    """Each row's speed over llama.cpp F32's at its thread count, and whether its greedy
    tokens are llama.cpp F32's (on the dense model: the same weights in fp32)."""
    ref = {
        r["threads"]: r
        for r in rows
        if r["engine"] == "llama.cpp" and r["weights"] == "F32" and r["status"] == "ok"
    }
    for r in rows:
        f32 = ref.get(r["threads"])
        if f32 and r.get("tokens_per_s"):
            r["speedup_vs_llamacpp_f32"] = r["tokens_per_s"] / f32["tokens_per_s"]
            r["same_tokens_as_llamacpp_f32"] = r["tokens"] == f32["tokens"]
    return rows
