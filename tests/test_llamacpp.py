"""llama.cpp beside our engine: the GGUF copies it runs (F32 and Q8_0 from the same weights),
its build settings (never AMX, never an ISA this CPU lacks), the rows that say why it did not
run, the byte-ideal arithmetic, and, where `make llamacpp` has built it, greedy tokens
identical to our engine's on the same fp32 weights."""

from pathlib import Path

import numpy as np
import pytest

from actsparse.inference import kernels as K
from actsparse.inference import llama_benchmark as B
from actsparse.inference import llamacpp as LC
from actsparse.pretrained.tiny import write_tiny_gguf


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def tensors(path: Path) -> dict[str, np.ndarray]:
    import gguf

    r = gguf.GGUFReader(str(path))
    return {t.name: gguf.quants.dequantize(t.data, t.tensor_type) for t in r.tensors}


def test_f32_and_q8_copies_hold_the_same_weights(tiny_gguf, tmp_path):
    src = tensors(tiny_gguf)
    f32 = LC.convert_gguf(tiny_gguf, tmp_path / "f32.gguf", "F32")
    q8 = LC.convert_gguf(tiny_gguf, tmp_path / "q8.gguf", "Q8_0")
    assert LC.gguf_type(f32) == "F32" and LC.gguf_type(q8) == "Q8_0"
    for name, a in tensors(f32).items():
        assert np.array_equal(a, src[name]), name
    for name, a in tensors(q8).items():
        # Q8_0: 8 bits and a scale d = block max / 127 per 32 weights, d stored in fp16:
        # error <= d / 2 (rounding) + 127 |d - fp16(d)| <= (1/2 + 127 * 2^-11) d
        step = np.abs(src[name]).max() / 127
        assert np.abs(a - src[name]).max() <= (0.5 + 127 * 2**-11) * step, name
    import gguf

    meta = gguf.GGUFReader(str(q8)).fields
    assert meta["llama.block_count"].contents() == 2
    with pytest.raises(ValueError, match="F32 or Q8_0, not 'Q4_1'"):
        LC.convert_gguf(tiny_gguf, tmp_path / "x.gguf", "Q4_1")


def test_the_build_names_its_isa_and_never_amx():
    args = LC.cmake_args("avx2")
    assert "-DGGML_NATIVE=OFF" in args and "-DGGML_AVX512=OFF" in args
    assert all(f"-DGGML_AMX_{x}=OFF" in args for x in ("TILE", "INT8", "BF16"))
    assert "-DGGML_AVX512=ON" in LC.cmake_args("avx512")
    assert "-DGGML_AVX2=OFF" in LC.cmake_args("generic")
    # the CPU's flags decide, AMX or not: an Intel Xeon listing AMX still gets avx512
    xeon = LC.AVX512_FLAGS | LC.AVX2_FLAGS | {"amx_tile", "amx_int8", "amx_bf16"}
    assert LC.build_isa(xeon) == "avx512"
    assert LC.build_isa(LC.AVX2_FLAGS | {"avx512f"}) == "avx2"  # AVX-512 without BW/VL
    assert LC.build_isa({"neon", "asimd"}) == "generic"
    assert LC.build_isa() == ("avx512" if "avx512" in K.supported_isas() else "avx2")


def test_without_a_build_llamacpp_rows_say_why(tmp_path, monkeypatch, tiny_gguf):
    monkeypatch.setenv("ACTSPARSE_CACHE", str(tmp_path))
    with pytest.raises(LC.LlamaCppUnavailable, match="make llamacpp"):
        LC.load()
    ggufs, why = B.llamacpp_models(tiny_gguf, ["F32", "Q8_0"], tmp_path)
    assert ggufs == {} and why.startswith("llama.cpp is not built")
    assert B.llamacpp_models(None, ["F32"], tmp_path) == (
        {},
        "the model source is not a GGUF file (llama.cpp reads GGUF only)",
    )
    assert B.llamacpp_models(tiny_gguf, [], tmp_path) == ({}, None)
    setup = B.DecodeSetup([1, 2, 3], 4, [1, 2], 1)
    rows = B.not_run("dense", "F32", setup, why)
    assert len(rows) == 2 and rows[0]["status"] == f"not run: {why}"
    relu = B.relufied_llamacpp_rows(["dense", "relufy_lam0"], setup)
    assert {r["variant"] for r in relu} == {"relufy_lam0"}
    assert "hard-codes a SiLU gate" in relu[0]["status"]


def test_runners_take_turns_within_each_repeat_and_keep_their_fastest():
    calls = []
    speeds = {"a": iter([3.0, 5.0, 4.0]), "b": iter([7.0, 6.0, 1.0])}

    def runner(name):
        def run():
            calls.append(name)
            return {"tokens": [len(calls)], "tokens_per_s": next(speeds[name])}

        return run

    best = B.take_turns({"a": runner("a"), "b": runner("b")}, repeats=3)
    assert calls == ["a", "b"] * 3  # never a's three runs, then b's
    assert best["a"] == {"tokens": [3], "tokens_per_s": 5.0}
    assert best["b"] == {"tokens": [2], "tokens_per_s": 7.0}


@pytest.mark.skipif(bool(K.unavailable()), reason=str(K.unavailable()))
def test_llamacpp_f32_takes_turns_beside_every_variant(monkeypatch):
    """Every variant's paths take turns with llama.cpp F32 (its other formats only beside the
    dense model), and each row's speedup is over the F32 run of its own turns. llama.cpp is
    stood in for by runners that log their calls, so this runs without a build."""
    from tests.test_llama_engine import tiny_llama, variant

    log = []

    def fake_runners(paths, threads, setup):
        def runner(fmt):
            def run():
                log.append(fmt)
                return {"tokens": [1], "tokens_per_s": {"F32": 2.0, "Q8_0": 4.0}[fmt]}

            return run

        return {f"llama.cpp:{fmt}": runner(fmt) for fmt in paths}

    monkeypatch.setattr(B, "llamacpp_runners", fake_runners)
    ggufs = {"F32": Path("f32.gguf"), "Q8_0": Path("q8.gguf")}
    setup = B.DecodeSetup([5, 17, 3], 4, [1], 2)
    dense = B.engine_rows("dense", tiny_llama(), setup, ggufs)
    assert log == ["F32", "Q8_0"] * 2
    assert {(r["engine"], r["weights"]) for r in dense} == {
        ("actsparse", "fp32"),
        ("llama.cpp", "F32"),
        ("llama.cpp", "Q8_0"),
    }
    log.clear()
    relu = B.engine_rows("relu", variant(tiny_llama(), "relu"), setup, ggufs)
    assert log == ["F32", "F32"] and {r["engine"] for r in relu} == {"actsparse"}
    rows = B.compare(dense + relu)
    for r in rows:
        assert r["llamacpp_f32_tokens_per_s"] == 2.0
        assert r["speedup_vs_llamacpp_f32"] == pytest.approx(r["tokens_per_s"] / 2.0)


def test_llamacpp_alone_times_its_formats_in_turns(monkeypatch):
    """A run that decodes no dense model still gets llama.cpp's rows, its formats taking
    turns, each over the F32 run of its own turns."""
    log = []

    def fake_runners(paths, threads, setup):
        def runner(fmt):
            def run():
                log.append((fmt, threads))
                return {"tokens": [threads], "tokens_per_s": {"F32": 2.0, "Q8_0": 5.0}[fmt]}

            return run

        return {f"{B.LLAMACPP}{fmt}": runner(fmt) for fmt in paths}

    monkeypatch.setattr(B, "llamacpp_runners", fake_runners)
    setup = B.DecodeSetup([5, 17, 3], 4, [1, 2], 2)
    rows = B.compare(B.llamacpp_rows({"F32": Path("f"), "Q8_0": Path("q")}, setup))
    assert log == [("F32", 1), ("Q8_0", 1)] * 2 + [("F32", 2), ("Q8_0", 2)] * 2
    assert [(r["weights"], r["threads"]) for r in rows] == [
        ("F32", 1),
        ("Q8_0", 1),
        ("F32", 2),
        ("Q8_0", 2),
    ]
    assert all(r["engine"] == "llama.cpp" and r["status"] == "ok" for r in rows)
    assert [r["speedup_vs_llamacpp_f32"] for r in rows] == [1.0, 2.5, 1.0, 2.5]
    assert all(r["same_tokens_as_llamacpp_f32"] for r in rows)


def test_ideal_speedup_counts_the_bytes_each_path_reads():
    counts = {"fixed": 100, "projection": 50}  # dense: 100 + 3 * 50 = 250 weights
    full = {"gate_rows": 1.0, "up_rows": 1.0, "down_rows": 1.0}
    assert B.ideal_speedup(counts, full, screened=False) == 1.0
    sparse = {"gate_rows": 1.0, "up_rows": 0.2, "down_rows": 0.2}  # 100 + 70 = 170
    assert B.ideal_speedup(counts, sparse, screened=False) == pytest.approx(250 / 170)
    screened = {"gate_rows": 0.4, "up_rows": 0.2, "down_rows": 0.2}  # 4*(100+40) + 50 int8
    assert B.ideal_speedup(counts, screened, screened=True) == pytest.approx(1000 / 610)


def test_compare_sets_ratios_against_the_llamacpp_f32_run_each_row_took_turns_with():
    rows = [
        {
            "engine": "llama.cpp",
            "weights": "F32",
            "threads": 1,
            "status": "ok",
            "tokens_per_s": 20.0,
            "llamacpp_f32_tokens_per_s": 20.0,
            "tokens": [1, 2],
        },
        {
            "engine": "actsparse",
            "weights": "fp32",
            "threads": 1,
            "status": "ok",
            "tokens_per_s": 30.0,
            "llamacpp_f32_tokens_per_s": 25.0,  # another variant's turns: F32 ran faster
            "tokens": [1, 2],
        },
        {
            "engine": "actsparse",
            "weights": "fp32",
            "threads": 2,
            "status": "ok",
            "tokens_per_s": 50.0,
            "llamacpp_f32_tokens_per_s": None,
            "tokens": [1, 3],
        },
    ]
    out = B.compare(rows)
    assert out[0]["speedup_vs_llamacpp_f32"] == 1.0
    assert out[1]["speedup_vs_llamacpp_f32"] == 1.2 and out[1]["same_tokens_as_llamacpp_f32"]
    assert "speedup_vs_llamacpp_f32" not in out[2]  # no llama.cpp F32 run beside it
    assert "same_tokens_as_llamacpp_f32" not in out[2]  # nor an F32 row at 2 threads


def test_llamacpp_and_our_engine_agree_on_the_same_weights(tiny_gguf):
    try:
        LC.load()
    except LC.LlamaCppUnavailable as e:
        pytest.skip(f"llama.cpp not built here: {e}")
    from actsparse.inference.llama_decode import EngineSettings, LlamaEngine
    from actsparse.pretrained import lm as L
    from actsparse.pretrained import source
    from actsparse.pretrained.tiny import write_tiny

    # the same seed's weights: as a Hugging Face directory for us, as a GGUF with the one
    # BPE merge llama.cpp insists on for it (transformers rejects that merge)
    path = write_tiny_gguf(tiny_gguf.with_name("merge.gguf"), merge=True)
    hf = write_tiny(tiny_gguf.parent / "hf", "llama")
    lm = L.load(source.resolve({"kind": "hf_dir", "path": str(hf)}))
    prompt = [5, 17, 3, 96, 44, 12]
    ours, _ = LlamaEngine(lm, EngineSettings(max_tokens=64)).generate(prompt, 20)
    theirs = LC.LlamaCppModel(path, threads=1, n_ctx=64).generate(prompt, 20)
    assert theirs.tokens == ours
    assert theirs.tokens_per_s > 0
