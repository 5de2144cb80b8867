"""Rule combined_sparsity: the 50% weight prune and ReLU + L1 in one fine-tune, masks held."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import math

import torch

from actsparse.checkpoint import load_model, save_model
from actsparse.config import config_hash
from actsparse.corpus import read_splits
from actsparse.finetune import add_matched
from actsparse.pruning import prune_ffn, weight_sparsity
from actsparse.relufy import relufy_finetune
from actsparse.tables import write_table
from actsparse.train import TrainConfig

torch.set_num_threads(snakemake.threads)
cfg, structure = snakemake.params.cfg, snakemake.wildcards.structure
c = cfg["combined"]
job = {**cfg, "structure": structure}
model, _ = load_model(snakemake.input.model)
masks = prune_ffn(model, c["ratio"], structure)
rows = relufy_finetune(
    model,
    read_splits(snakemake.input),
    TrainConfig.for_stage(cfg, "combined"),
    c["lam"],
    masks=masks,
    ckpt_path=snakemake.params.checkpoint,
    run_id=config_hash(job),
)
rows = add_matched(rows, snakemake.input.control, c)
variant = f"combined_{structure}"
save_model(model, snakemake.output.model, {"variant": variant, "config_hash": config_hash(job)})
base = {
    "variant": variant,
    "activation": "relu",
    "lam": c["lam"],
    "structure": structure,
    "ratio": c["ratio"],
    "weight_sparsity": weight_sparsity(model),
}
rows = [
    {**base, **r, "rel_ppl": math.expm1(r["delta_ce"]) if "delta_ce" in r else None} for r in rows
]
write_table("combined", rows, snakemake.output.part, job)
