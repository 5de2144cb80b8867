"""Rules relufy_finetune (one job per constant lam) and relufy_schedule (one job per named
L1 schedule): dense GELU -> ReLU, fine-tuned with lambda(step) * mean|a|, then FATReLU
thresholds evaluated on the result."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.checkpoint import load_model, save_model
from actsparse.config import config_hash
from actsparse.corpus import read_splits
from actsparse.finetune import add_matched
from actsparse.relufy import fatrelu_rows, relufy_finetune
from actsparse.schedules import L1Schedule
from actsparse.tables import write_table
from actsparse.train import TrainConfig

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
schedule = L1Schedule.from_dict(snakemake.params.schedule)
job = {**cfg, "schedule": schedule.to_dict()}
tcfg = TrainConfig.for_stage(cfg, "relufy")
splits = read_splits(snakemake.input)
model, _ = load_model(snakemake.input.model)
ce_dense, rows = relufy_finetune(
    model, splits, tcfg, schedule, ckpt_path=snakemake.params.checkpoint, run_id=config_hash(job)
)
variant = f"relufy_{schedule.name}"
save_model(model, snakemake.output.model, {"variant": variant, "config_hash": config_hash(job)})
base = {
    "activation": "relu",
    "lam": schedule.peak,
    "schedule": schedule.name,
    "ramp": schedule.ramp,
}
rows = [{"variant": variant, **base, **r} for r in rows]
fat_thresholds = snakemake.params.fat_thresholds
for r in fatrelu_rows(model, splits["val"], tcfg, fat_thresholds, ce_dense):
    t = r["fat_threshold"]
    rows.append({"variant": f"{variant}_fat{t:g}", **base, "activation": "fatrelu", **r})
rows = add_matched(rows, snakemake.input.control, cfg["relufy"])
write_table("relufy", rows, snakemake.output.part, {**job, "fat_thresholds": fat_thresholds})
