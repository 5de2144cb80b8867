"""Rule prune: magnitude-prune the FFN weights, recover with the masks held at zero."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/prune.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("prune", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.core.checkpoint import load_model, save_model
from actsparse.core.config import config_hash
from actsparse.core.corpus import read_splits
from actsparse.core.train import RunContext, TrainConfig
from actsparse.methods.finetune import add_matched
from actsparse.methods.pruning import prune_and_recover
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg, ratio = snakemake.params.cfg, snakemake.params.ratio
structure = snakemake.wildcards.structure
job = {**cfg, "ratio": ratio, "structure": structure}
model, _ = load_model(snakemake.input.model)
rows = prune_and_recover(
    model,
    read_splits(snakemake.input),
    TrainConfig.for_stage(cfg, "prune"),
    ratio,
    structure,
    RunContext(snakemake.params.checkpoint, config_hash(job)),
)
rows = add_matched(rows, snakemake.input.control, cfg["prune"])
variant = f"prune_{structure}_r{ratio:g}"
save_model(model, snakemake.output.model, {"variant": variant, "config_hash": config_hash(job)})
write_table("prune", [{"variant": variant, **r} for r in rows], snakemake.output.part, job)
