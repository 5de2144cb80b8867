"""Rules combined_sparsity (the combined section's constant lam) and combined_best (the
relufy frontier's best schedule and FATReLU threshold): the dense model with the prune
stage's masks (same ratio and structure) and ReLU + L1 in one fine-tune, masks held."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/combined_sparsity.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("combined_sparsity", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.core.checkpoint import load_model, save_model
from actsparse.core.config import config_hash
from actsparse.core.corpus import read_splits
from actsparse.core.train import RunContext, TrainConfig
from actsparse.core.variants import fat_variant
from actsparse.methods.finetune import add_matched
from actsparse.methods.frontier import best_row
from actsparse.methods.pruning import weight_sparsity
from actsparse.methods.relufy import rel_ppl, relufy_finetune, relufy_rows
from actsparse.methods.schedules import L1Schedule
from actsparse.report.tables import read_table, write_table

torch.set_num_threads(snakemake.threads)
cfg, structure = snakemake.params.cfg, snakemake.wildcards.structure
c = cfg["combined"]
if "frontier" in snakemake.input.keys():  # combined_best
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
run = RunContext(snakemake.params.checkpoint, config_hash(job))
ce_dense, rows = relufy_finetune(model, splits, tcfg, schedule, masks=masks, run=run)
base = {
    "activation": "relu",
    "lam": schedule.peak,
    "schedule": schedule.name,
    "ramp": schedule.ramp,
    "structure": structure,
    "ratio": c["ratio"],
    "weight_sparsity": weight_sparsity(model),
}
rows = relufy_rows(
    model, rows, variant, base, (splits["val"], tcfg, [fat], ce_dense) if fat is not None else None
)
if fat is not None:  # the saved model is the end point the frontier picked
    variant = fat_variant(variant, fat)
    model.set_activation("fatrelu", shift=fat)
rows = rel_ppl(add_matched(rows, snakemake.input.control, c))
save_model(model, snakemake.output.model, {"variant": variant, "config_hash": run.run_id})
write_table("combined", rows, snakemake.output.part, job)
