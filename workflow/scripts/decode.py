"""Rule decode: generation bytes/s of each model with dense and sparse FFN paths."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

import torch

from actsparse.checkpoint import load_model
from actsparse.corpus import read_split
from actsparse.decode import decode_rows, screenable
from actsparse.tables import write_table

cfg = snakemake.params.cfg
d = cfg["decode"]
torch.set_num_threads(d["threads"])
prompt = read_split(snakemake.input.test)[: d["prompt_bytes"]].tobytes()
rows = []
for path in snakemake.input.models:
    name = Path(path).stem
    model, _ = load_model(path)
    paths = ["dense", "sparse"] + (["block_sparse"] if "block16" in name else [])
    paths += ["screened"] if screenable(model.cfg) else []
    rows += decode_rows(name, model, prompt, d["new_bytes"], paths, d["repeats"], d["threads"])
    print(rows[-len(paths) :], file=sys.stderr)
write_table("decode", rows, snakemake.output.table, cfg)
