"""Rule speculative_decode: measured speculative decoding of the relufied model with a byte
n-gram draft, dense vs sparse verification, beside RSB's Theorems 1-2."""

import sys

if (
    "snakemake" not in globals()
):  # run by hand: python workflow/scripts/speculative_decode.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("speculative_decode", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.core.checkpoint import load_model
from actsparse.core.corpus import read_split
from actsparse.inference import kernels as K
from actsparse.inference.speculative_decoding import NgramDraft, measured_rows
from actsparse.metrics.flops import dense_flops
from actsparse.report.tables import write_table

cfg = snakemake.params.cfg
if why := K.unavailable():
    write_table("speculative_decode", [], snakemake.output.table, cfg, status=why)
else:
    s = cfg["speculative_decode"]
    torch.set_num_threads(1)  # the engine runs on one thread
    model, meta = load_model(snakemake.input.model)
    draft = NgramDraft.fit(
        read_split(snakemake.input.train)[: s["draft_fit_bytes"]], s["draft_order"]
    )
    prompt = read_split(snakemake.input.test)[: s["prompt_bytes"]].tobytes()
    dense = dense_flops(model.cfg)
    rows = measured_rows(
        model,
        draft,
        prompt,
        s["new_bytes"],
        s["gammas"],
        s["repeats"],
        down_share=dense.ffn_down / dense.total,
    )
    print(*rows, sep="\n", file=sys.stderr)
    variant = meta.get("variant", "relufied")
    write_table(
        "speculative_decode", [{"variant": variant, **r} for r in rows], snakemake.output.table, cfg
    )
