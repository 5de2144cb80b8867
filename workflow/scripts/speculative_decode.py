"""Rule speculative_decode: measured speculative decoding of the relufied model with a byte
n-gram draft, dense vs sparse verification, beside RSB's Theorems 1-2."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.checkpoint import load_model
from actsparse.corpus import read_split
from actsparse.draft import NgramDraft
from actsparse.flops import dense_flops
from actsparse.speculative_decode import measured_rows
from actsparse.tables import write_table

cfg = snakemake.params.cfg
s = cfg["speculative_decode"]
torch.set_num_threads(s["threads"])
model, meta = load_model(snakemake.input.model)
draft = NgramDraft.fit(read_split(snakemake.input.train)[: s["draft_fit_bytes"]], s["draft_order"])
prompt = read_split(snakemake.input.test)[: s["prompt_bytes"]].tobytes()
dense = dense_flops(model.cfg)
rows = measured_rows(
    model,
    draft,
    prompt,
    s["new_bytes"],
    s["gammas"],
    s["repeats"],
    s["threads"],
    down_share=dense.ffn_down / dense.total,
)
print(*rows, sep="\n", file=sys.stderr)
variant = meta.get("variant", "relufied")
write_table(
    "speculative_decode", [{"variant": variant, **r} for r in rows], snakemake.output.table, cfg
)
