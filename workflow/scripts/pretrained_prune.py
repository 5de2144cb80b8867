"""Rule pretrained_prune: RSB Table 4 on the pretrained model. Its FFN pruned by one method
(magnitude or Wanda) to the FFN FLOPs the matched relufied model reaches, then the relufy
budget's recovery fine-tune with the masks held, against the same control; resumable;
scored zero-shot like every variant."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/pretrained_prune.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("pretrained_prune", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

import torch

from actsparse.core.config import config_hash
from actsparse.core.train import RunContext
from actsparse.methods.finetune import add_matched
from actsparse.pretrained import pruning, stages
from actsparse.report.tables import read_table, write_table

torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.cfg
p, method = cfg["pretrained"], snakemake.wildcards.method
job = {**cfg, "method": method}
lm = stages.load_model(snakemake.input.model)
ratio = pruning.matched_ratio(read_table(snakemake.input.flops), p["prune"]["match"])
print(f"{method}: FFN weight sparsity {ratio:.4f} matches {p['prune']['match']}", file=sys.stderr)
data = {s: Path(snakemake.input[s]).read_bytes() for s in ("train", "val")}
calib = stages.windows(lm, data["train"], p["context"], p["calib_windows"])
run = RunContext(snakemake.params.checkpoint, config_hash(job))
rows = pruning.recovery_rows(lm, data, cfg, method, ratio, calib.batches(p["batch_size"]), run)
rows = add_matched(rows, snakemake.input.control, p["relufy"], ("pretrained", "relufy"))
write_table("pretrained_prune", rows, snakemake.output.table, job)
name = f"prune_{method}"
zeroshot = stages.zeroshot_rows(lm, name, name, snakemake.input.tasks, p["zeroshot"])
write_table("pretrained_zeroshot", zeroshot, snakemake.output.zeroshot, job)
