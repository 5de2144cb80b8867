"""Rule prune: magnitude-prune the FFN weights, recover with the masks held at zero."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.checkpoint import load_model, save_model
from actsparse.config import config_hash
from actsparse.corpus import read_splits
from actsparse.finetune import add_matched
from actsparse.pruning import prune_and_recover
from actsparse.tables import write_table
from actsparse.train import TrainConfig

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
    ckpt_path=snakemake.params.checkpoint,
    run_id=config_hash(job),
)
rows = add_matched(rows, snakemake.input.control, cfg["prune"])
variant = f"prune_{structure}_r{ratio:g}"
save_model(model, snakemake.output.model, {"variant": variant, "config_hash": config_hash(job)})
write_table("prune", [{"variant": variant, **r} for r in rows], snakemake.output.part, job)
