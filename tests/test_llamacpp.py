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
    setup = B.DecodeSetup([1, 2, 3], 4, [1, 2], 1)
    rows = B.llamacpp_rows(tiny_gguf, ["F32", "Q8_0"], setup, tmp_path)
    assert len(rows) == 4 and all(
        r["status"].startswith("not run: llama.cpp is not built") for r in rows
    )
    rows = B.llamacpp_rows(None, ["F32"], setup, tmp_path)
    assert (
        rows[0]["status"]
        == "not run: the model source is not a GGUF file (llama.cpp reads GGUF only)"
    )
    relu = B.relufied_llamacpp_rows(["dense", "relufy_lam0"], setup)
    assert {r["variant"] for r in relu} == {"relufy_lam0"}
    assert "hard-codes a SiLU gate" in relu[0]["status"]


def test_ideal_speedup_counts_the_bytes_each_path_reads():
    counts = {"fixed": 100, "projection": 50}  # dense: 100 + 3 * 50 = 250 weights
    full = {"gate_rows": 1.0, "up_rows": 1.0, "down_rows": 1.0}
    assert B.ideal_speedup(counts, full, screened=False) == 1.0
    sparse = {"gate_rows": 1.0, "up_rows": 0.2, "down_rows": 0.2}  # 100 + 70 = 170
    assert B.ideal_speedup(counts, sparse, screened=False) == pytest.approx(250 / 170)
    screened = {"gate_rows": 0.4, "up_rows": 0.2, "down_rows": 0.2}  # 4*(100+40) + 50 int8
    assert B.ideal_speedup(counts, screened, screened=True) == pytest.approx(1000 / 610)


def test_compare_sets_ratios_against_llamacpp_f32_at_the_same_threads():
    rows = [
        {
            "engine": "llama.cpp",
            "weights": "F32",
            "threads": 1,
            "status": "ok",
            "tokens_per_s": 20.0,
            "tokens": [1, 2],
        },
        {
            "engine": "actsparse",
            "weights": "fp32",
            "threads": 1,
            "status": "ok",
            "tokens_per_s": 30.0,
            "tokens": [1, 2],
        },
        {
            "engine": "actsparse",
            "weights": "fp32",
            "threads": 2,
            "status": "ok",
            "tokens_per_s": 50.0,
            "tokens": [1, 3],
        },
    ]
    out = B.compare(rows)
    assert out[1]["speedup_vs_llamacpp_f32"] == 1.5 and out[1]["same_tokens_as_llamacpp_f32"]
    assert "speedup_vs_llamacpp_f32" not in out[2]  # no llama.cpp F32 row at 2 threads


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
