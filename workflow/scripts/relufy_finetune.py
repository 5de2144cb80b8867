"""Rules relufy_finetune (one job per constant lam) and relufy_schedule (one job per named
L1 schedule): dense GELU -> ReLU, fine-tuned with lambda(step) * mean|a|, then FATReLU
thresholds evaluated on the result."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/relufy_finetune.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("relufy_finetune", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.core.checkpoint import load_model, save_model
from actsparse.core.config import config_hash
from actsparse.core.corpus import read_splits
from actsparse.core.train import RunContext, TrainConfig
from actsparse.methods.finetune import add_matched
from actsparse.methods.relufy import relufy_finetune, relufy_rows
from actsparse.methods.schedules import L1Schedule
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
schedule = L1Schedule.from_dict(snakemake.params.schedule)
fat_thresholds = snakemake.params.fat_thresholds
job = {**cfg, "schedule": schedule.to_dict()}
tcfg = TrainConfig.for_stage(cfg, "relufy")
splits = read_splits(snakemake.input)
model, _ = load_model(snakemake.input.model)
run = RunContext(snakemake.params.checkpoint, config_hash(job))
ce_dense, rows = relufy_finetune(model, splits, tcfg, schedule, run=run)
variant = f"relufy_{schedule.name}"
save_model(model, snakemake.output.model, {"variant": variant, "config_hash": run.run_id})
base = {
    "activation": "relu",
    "lam": schedule.peak,
    "schedule": schedule.name,
    "ramp": schedule.ramp,
}
fat = (splits["val"], tcfg, fat_thresholds, ce_dense)
rows = add_matched(
    relufy_rows(model, rows, variant, base, fat), snakemake.input.control, cfg["relufy"]
)
write_table("relufy", rows, snakemake.output.part, {**job, "fat_thresholds": fat_thresholds})
