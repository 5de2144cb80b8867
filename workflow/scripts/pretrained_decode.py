"""Rule pretrained_decode: tokens/s of the pretrained model decoded token by token in our C++
Llama engine (dense, sparse and screened paths) on the dense model, its hard swap and every
relufied model, and of llama.cpp on the same weights; alone on the machine."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/pretrained_decode.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("pretrained_decode", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

import torch

from actsparse.inference import kernels as K
from actsparse.inference import llama_benchmark as B
from actsparse.inference.llama_decode import UnsupportedModel
from actsparse.pretrained import source, stages, text
from actsparse.report.tables import write_table

cfg = snakemake.params.cfg
p = cfg["pretrained"]
d = p["decode"]
torch.set_num_threads(1)  # the engine and llama.cpp take their own thread counts
model_dirs = snakemake.params.model_dirs  # variant -> its saved model (common.smk)


def run() -> tuple[list[dict], str | None]:
    if why := K.unavailable():
        return [], why
    dense = stages.load_variant(model_dirs["dense"], "dense", p["hard_swap_activation"])
    ids = text.tokenize(dense.tokenizer, Path(snakemake.input.val).read_bytes()).ids
    setup = B.DecodeSetup(
        [int(t) for t in ids[: d["prompt_tokens"]]], d["new_tokens"], d["threads"], d["repeats"]
    )
    files = source.resolve(p["source"])
    gguf = files.path if files.kind == "gguf" else None
    work = Path(snakemake.params.gguf_dir)
    work.mkdir(parents=True, exist_ok=True)
    ggufs, why = B.llamacpp_models(gguf, d["llamacpp"], work)
    rows = []
    for variant, directory in model_dirs.items():
        lm = stages.load_variant(directory, variant, p["hard_swap_activation"])
        try:
            rows += B.engine_rows(variant, lm, setup, ggufs)
        except UnsupportedModel as e:
            return [], f"not run: {e}"
    if why:
        rows += [r for fmt in d["llamacpp"] for r in B.not_run("dense", fmt, setup, why)]
    elif "dense" not in model_dirs:  # llama.cpp's own rows come with the dense model's
        rows += B.llamacpp_rows(ggufs, setup)
    rows += B.relufied_llamacpp_rows(list(model_dirs), setup)
    return B.compare(rows), None


rows, status = run()
write_table("pretrained_decode", rows, snakemake.output.table, cfg, status=status)
