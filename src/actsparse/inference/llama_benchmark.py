"""Tokens/s of a Llama-family model: each of our engine's paths, and llama.cpp on the same
weights, same prompt tokens, same number of new tokens and threads (greedy, batch 1).

Each path's speed is the best of `repeats` runs, the paths taking turns within a repeat so
a drift of this shared VM's speed hits all of them alike. llama.cpp F32 on the dense model
takes its turn beside every variant's paths, and each row's speedup over it is over that
run: timed minutes after our paths instead, it put our dense path at 1.23x its speed on 1
thread and 0.95x on 2 on one VM (results/decode_sweep, run 1). Beside the measured speedup
over our dense path stands the byte-ideal one: the weights a token reads on that path (the
FFN rows it actually computed, counted by the engine, plus the int8 gate the screen reads)
against the dense path's; KV-cache reads are left out of both (under 7% of a token's bytes
at 256 positions). Measured over ideal is the fraction of ideal (as in the kernels table).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
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


Run = dict  # one greedy generation: tokens, tokens_per_s, and what the engine counted
Runner = Callable[[], Run]


def take_turns(runners: Mapping[str, Runner], repeats: int) -> dict[str, Run]:
    """Each runner's fastest of `repeats` runs, all runners taking turns within a repeat, so
    a drift of the machine's speed between periods hits every one of them alike."""
    best: dict[str, Run] = {}
    for _ in range(repeats):
        for name, runner in runners.items():
            run = runner()
            if name not in best or run["tokens_per_s"] > best[name]["tokens_per_s"]:
                best[name] = run
    return best


LLAMACPP = "llama.cpp:"  # runner names: llama.cpp:<format>


def f32_speed(best: Mapping[str, Run]) -> float | None:
    """llama.cpp F32's tokens/s in a turn's best runs (None when it did not take part)."""
    run = best.get(f"{LLAMACPP}F32")
    return run["tokens_per_s"] if run else None


def llamacpp_runners(paths: Mapping[str, Path], threads: int, setup: DecodeSetup) -> dict:
    """llama.cpp on each GGUF copy of the dense model, as runners named llama.cpp:<format>."""
    n_ctx = len(setup.prompt) + setup.new_tokens
    runners = {}
    for fmt, path in paths.items():
        model = LC.LlamaCppModel(path, threads, n_ctx=n_ctx)

        def run(model: LC.LlamaCppModel = model) -> Run:
            out = model.generate(setup.prompt, setup.new_tokens)
            return {"tokens": out.tokens, "tokens_per_s": out.tokens_per_s}

        runners[f"{LLAMACPP}{fmt}"] = run
    return runners


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


def engine_rows(
    variant: str,
    lm,  # noqa: ANN001
    setup: DecodeSetup,
    llamacpp: Mapping[str, Path] | None = None,
) -> list[dict]:
    """Every path the variant's gate allows, at every thread count, taking turns with
    llama.cpp (`llamacpp`: format -> GGUF of the dense model): beside the dense model every
    format, which gives llama.cpp's own rows; beside any other variant F32 only, the
    reference its rows' speedup_vs_llamacpp_f32 divides by."""
    llamacpp = dict(llamacpp or {})
    if variant != "dense":
        llamacpp = {f: p for f, p in llamacpp.items() if f == "F32"}
    rows = []
    paths = paths_for(lm)
    counts = weight_counts(lm)
    max_tokens = len(setup.prompt) + setup.new_tokens
    for threads in setup.threads:
        runners: dict[str, Runner] = {}
        engines = {}
        for p in paths:
            engine = LlamaEngine(lm, EngineSettings(path=p, threads=threads, max_tokens=max_tokens))

            def run(engine: LlamaEngine = engine) -> Run:
                out, tps = engine.generate(setup.prompt, setup.new_tokens)
                return {"tokens": out, "tokens_per_s": tps, **engine.row_fractions()}

            engines[p], runners[p] = engine, run
        runners |= llamacpp_runners(llamacpp, threads, setup)
        best = take_turns(runners, setup.repeats)
        f32 = f32_speed(best)
        dense_tps = best["dense"]["tokens_per_s"]
        for p in paths:
            run = best[p]
            ideal = ideal_speedup(counts, run, p == "screened")
            rows.append(
                {
                    "engine": "actsparse",
                    "variant": variant,
                    "path": p,
                    "weights": "fp32",
                    "threads": threads,
                    "prompt_tokens": len(setup.prompt),
                    "new_tokens": setup.new_tokens,
                    "tokens_per_s": run["tokens_per_s"],
                    "speedup_vs_dense_path": run["tokens_per_s"] / dense_tps,
                    "ideal_speedup": ideal,
                    "fraction_of_ideal": run["tokens_per_s"] / dense_tps / ideal,
                    "llamacpp_f32_tokens_per_s": f32,
                    "act_sparsity": run["act_sparsity"],
                    "gate_rows": run["gate_rows"],
                    "up_rows": run["up_rows"],
                    "down_rows": run["down_rows"],
                    "greedy_identical": run["tokens"] == best["dense"]["tokens"],
                    "tokens": run["tokens"],
                    "huge_pages": engines[p].huge_pages,
                    "status": "ok",
                    "isa": engines[p].isa,
                    "cpu_model": K.cpu_model(),
                }
            )
        if variant == "dense":
            rows += _llamacpp_ok_rows(best, threads, setup)
        speeds = {n: round(r["tokens_per_s"], 1) for n, r in best.items()}
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


def _llamacpp_ok_rows(best: Mapping[str, Run], threads: int, setup: DecodeSetup) -> list[dict]:
    """llama.cpp's rows from the runs of a turn (runners named llama.cpp:<format>)."""
    f32, isa = f32_speed(best), LC.build_isa()
    return [
        _llamacpp_row("dense", name.removeprefix(LLAMACPP), threads, setup, "ok")
        | {
            "tokens_per_s": run["tokens_per_s"],
            "tokens": run["tokens"],
            "llamacpp_f32_tokens_per_s": f32,
            "isa": isa,
        }
        for name, run in best.items()
        if name.startswith(LLAMACPP)
    ]


def llamacpp_rows(ggufs: Mapping[str, Path], setup: DecodeSetup) -> list[dict]:
    """llama.cpp alone, its formats taking turns: for a run that decodes no dense model
    (engine_rows on the dense model gives these rows beside our paths)."""
    rows = []
    for threads in setup.threads:
        rows += _llamacpp_ok_rows(
            take_turns(llamacpp_runners(ggufs, threads, setup), setup.repeats), threads, setup
        )
    return rows


def llamacpp_models(
    gguf: Path | None, formats: Sequence[str], work: Path
) -> tuple[dict[str, Path], str | None]:
    """The dense model's GGUF in each format (the shipped file as it is, F32 and Q8_0 copies
    of it, written under work), or why llama.cpp cannot run."""
    if not formats:
        return {}, None
    if gguf is None:
        return {}, "the model source is not a GGUF file (llama.cpp reads GGUF only)"
    try:
        LC.load()
    except LC.LlamaCppUnavailable as e:
        return {}, str(e)
    shipped = LC.gguf_type(gguf)
    return {
        fmt: gguf if fmt == shipped else LC.convert_gguf(gguf, work / f"{fmt}.gguf", fmt)
        for fmt in formats
    }, None


def relufied_llamacpp_rows(variants: Sequence[str], setup: DecodeSetup) -> list[dict]:
    """llama.cpp cannot run a ReLU-gated Llama (see llamacpp.RELU_GATE_REASON)."""
    return [
        r for v in variants if v != "dense" for r in not_run(v, "F32", setup, LC.RELU_GATE_REASON)
    ]


def compare(rows: list[dict]) -> list[dict]:
    """Each row's speed over the llama.cpp F32 run it took turns with, and whether its greedy
    tokens are llama.cpp F32's at its thread count (on the dense model: the same weights in
    fp32)."""
    ref = {
        r["threads"]: r["tokens"]
        for r in rows
        if r["engine"] == "llama.cpp" and r["weights"] == "F32" and r["status"] == "ok"
    }
    for r in rows:
        if r.get("tokens_per_s") and r.get("llamacpp_f32_tokens_per_s"):
            r["speedup_vs_llamacpp_f32"] = r["tokens_per_s"] / r["llamacpp_f32_tokens_per_s"]
        if r.get("tokens") is not None and r["threads"] in ref:
            r["same_tokens_as_llamacpp_f32"] = r["tokens"] == ref[r["threads"]]
    return rows
