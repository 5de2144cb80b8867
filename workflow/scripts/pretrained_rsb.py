"""Rule pretrained_rsb: one of RSB's other relufications of the pretrained model fine-tuned
with the stage-1 budget and no L1, against the same compute-matched control; resumable;
scored zero-shot like every variant. Stage 2 starts from a stage-1 model (the input the rule
gives it), dReLU and shifted ReLU from the dense one."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/pretrained_rsb.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("pretrained_rsb", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

import torch

from actsparse.core.config import config_hash
from actsparse.core.train import RunContext
from actsparse.methods.finetune import add_matched
from actsparse.pretrained import relufy, stages, text
from actsparse.report.tables import write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
p, kind = cfg["pretrained"], snakemake.wildcards.variant
job = {**cfg, "variant": kind}
lm = stages.load_model(snakemake.input.model)
lm.context = p["context"]
data = {s: Path(snakemake.input[s]).read_bytes() for s in ("train", "val")}
shift = 0.0
if kind == "shifted_relu":
    val = text.tokenize(lm.tokenizer, data["val"]).ids
    shift = relufy.gate_shift(lm, val, p["rsb"]["shift_windows"], p["rsb"]["shift_target"])
    print(f"shift b = {shift:.4f}", file=sys.stderr)
run = RunContext(snakemake.params.checkpoint, config_hash(job))
rows = relufy.variant_rows(lm, data, cfg, kind, shift, run)
rows = add_matched(rows, snakemake.input.control, p["relufy"], ("pretrained", "relufy"))
lm.save(snakemake.output.model)
write_table("pretrained_rsb", rows, snakemake.output.table, job)
zeroshot = stages.zeroshot_rows(lm, kind, kind, snakemake.input.tasks, p["zeroshot"])
write_table("pretrained_zeroshot", zeroshot, snakemake.output.zeroshot, job)
