"""Rules combined_sparsity (the combined section's constant lam) and combined_best (the
relufy frontier's best schedule and FATReLU threshold): the dense model with the prune
stage's masks (same ratio and structure) and ReLU + L1 in one fine-tune, masks held."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import math

import torch

from actsparse.checkpoint import load_model, save_model
from actsparse.config import config_hash
from actsparse.corpus import read_splits
from actsparse.finetune import add_matched
from actsparse.frontier import best_row
from actsparse.pruning import weight_sparsity
from actsparse.relufy import fatrelu_rows, relufy_finetune
from actsparse.schedules import L1Schedule
from actsparse.tables import read_table, write_table
from actsparse.train import TrainConfig

torch.set_num_threads(snakemake.threads)
cfg, structure = snakemake.params.cfg, snakemake.wildcards.structure
c = cfg["combined"]
if "frontier" in snakemake.input.keys():
    schedule, fat = best_row(read_table(snakemake.input.frontier))
    variant = f"combined_{structure}_{schedule.name}"
else:
    schedule, fat = L1Schedule.constant(c["lam"]), None
    variant = f"combined_{structure}"
job = {**cfg, "structure": structure, "schedule": schedule.to_dict()}
tcfg = TrainConfig.for_stage(cfg, "combined")
splits = read_splits(snakemake.input)
model, _ = load_model(snakemake.input.model)
masks = load_model(snakemake.input.pruned)[0].masks  # the prune stage's own masks
ce_dense, rows = relufy_finetune(
    model,
    splits,
    tcfg,
    schedule,
    masks=masks,
    ckpt_path=snakemake.params.checkpoint,
    run_id=config_hash(job),
)
base = {
    "activation": "relu",
    "lam": schedule.peak,
    "schedule": schedule.name,
    "ramp": schedule.ramp,
    "structure": structure,
    "ratio": c["ratio"],
    "weight_sparsity": weight_sparsity(model),
}
rows = [{"variant": variant, **base, **r} for r in rows]
if fat is not None:
    (end,) = fatrelu_rows(model, splits["val"], tcfg, [fat], ce_dense)
    variant = f"{variant}_fat{fat:g}"
    rows.append({"variant": variant, **base, "activation": "fatrelu", **end})
    model.set_activation("fatrelu", shift=fat)
rows = add_matched(rows, snakemake.input.control, c)
rows = [{**r, "rel_ppl": math.expm1(r["delta_ce"]) if "delta_ce" in r else None} for r in rows]
save_model(model, snakemake.output.model, {"variant": variant, "config_hash": config_hash(job)})
write_table("combined", rows, snakemake.output.part, job)
