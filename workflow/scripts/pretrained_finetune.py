"""Rules pretrained_relufy and pretrained_control: the pretrained model relufied (the
gate's activation -> ReLU, L1 on its output by the job's schedule) or, with no schedule,
fine-tuned as it is with the same budget (the compute-matched control); resumable. The
result is scored zero-shot like every training-free variant."""

import sys

if (
    "snakemake" not in globals()
):  # run by hand: python workflow/scripts/pretrained_finetune.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("pretrained_relufy", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

import torch

from actsparse.core.config import config_hash
from actsparse.core.train import RunContext
from actsparse.methods.finetune import add_matched
from actsparse.methods.schedules import L1Schedule
from actsparse.pretrained import relufy, stages
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
spec = snakemake.params.schedule
schedule = L1Schedule.from_dict(spec) if spec else None
job = {**cfg, "schedule": spec}
lm = stages.load_model(snakemake.input.model)
data = {s: Path(snakemake.input[s]).read_bytes() for s in ("train", "val")}
run = RunContext(snakemake.params.checkpoint, config_hash(job))
rows = relufy.finetune_rows(lm, data, cfg, schedule, run)
lm.save(snakemake.output.model)
variant = "control" if schedule is None else f"relufy_{schedule.name}"
p = cfg["pretrained"]
method = variant.split("_")[0]
zeroshot = stages.zeroshot_rows(lm, variant, method, snakemake.input.tasks, p["zeroshot"])
write_table("pretrained_zeroshot", zeroshot, snakemake.output.zeroshot, job)
if schedule is None:
    write_table("pretrained_control", rows, snakemake.output.table, job)
else:
    budget = cfg["pretrained"]["relufy"]
    rows = add_matched(rows, snakemake.input.control, budget, ("pretrained", "relufy"))
    write_table("pretrained_relufy", rows, snakemake.output.table, job)
