"""Rule pretrained_method: one training-free method on the pretrained model (dense,
thresholds at each target sparsity, or the hard swap): ce, bpb and sparsity on the fixed
validation windows, and zero-shot accuracy per task."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/pretrained_method.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("pretrained_method", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

import torch

from actsparse.pretrained import stages
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
p, method = cfg["pretrained"], snakemake.wildcards.method
lm = stages.load_model(snakemake.input.model)
tasks = dict(zip(p["zeroshot"]["tasks"], map(Path, snakemake.input.tasks), strict=True))
quality, zeroshot = stages.method_rows(
    method,
    lm,
    Path(snakemake.input.val).read_bytes(),
    Path(snakemake.input.train).read_bytes(),
    tasks,
    p,
)
for row in quality:
    print(row, file=sys.stderr)


def variant(r):
    s = r.get("target_sparsity")
    return method if s is None else f"{method}:s{s}"


write_table(
    "pretrained_quality",
    [{"variant": variant(r), **r} for r in quality],
    snakemake.output.quality,
    cfg,
)
write_table(
    "pretrained_zeroshot",
    [{"variant": variant(r), **r} for r in zeroshot],
    snakemake.output.zeroshot,
    cfg,
)
