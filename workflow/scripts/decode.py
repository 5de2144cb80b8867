"""Rule decode: generation bytes/s of each model with dense and sparse FFN paths."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/decode.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("decode", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

import torch

from actsparse.core.checkpoint import load_model
from actsparse.core.corpus import read_split
from actsparse.inference import kernels as K
from actsparse.inference.decode import decode_paths, decode_rows
from actsparse.report.tables import write_table

cfg = snakemake.params.cfg
if why := K.unavailable():
    write_table("decode", [], snakemake.output.table, cfg, status=why)
else:
    d = cfg["decode"]
    torch.set_num_threads(1)  # the engine runs on one thread
    prompt = read_split(snakemake.input.test)[: d["prompt_bytes"]].tobytes()
    rows = []
    for path in snakemake.input.models:
        model, _ = load_model(path)
        paths = decode_paths(model)
        rows += decode_rows(Path(path).stem, model, prompt, d["new_bytes"], paths, d["repeats"])
        print(rows[-len(paths) :], file=sys.stderr)
    write_table("decode", rows, snakemake.output.table, cfg)
