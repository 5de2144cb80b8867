"""Rule relufy_finetune: dense GELU -> ReLU, fine-tuned with lam * mean|a|; one job per lam."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import torch

from actsparse.checkpoint import load_model, save_model
from actsparse.config import config_hash
from actsparse.corpus import read_splits
from actsparse.finetune import add_matched
from actsparse.relufy import relufy_finetune
from actsparse.tables import write_table
from actsparse.train import TrainConfig

torch.set_num_threads(snakemake.threads)
cfg, lam = snakemake.params.cfg, snakemake.params.lam
run_id = config_hash({**cfg, "lam": lam})
model, _ = load_model(snakemake.input.model)
rows = relufy_finetune(
    model,
    read_splits(snakemake.input),
    TrainConfig.for_stage(cfg, "relufy"),
    lam,
    ckpt_path=snakemake.params.checkpoint,
    run_id=run_id,
)
rows = add_matched(rows, snakemake.input.control, cfg["relufy"])
variant = f"relufy_lam{lam:g}"
save_model(model, snakemake.output.model, {"variant": variant, "config_hash": run_id})
rows = [{"variant": variant, "activation": "relu", "lam": lam, **r} for r in rows]
write_table("relufy", rows, snakemake.output.part, {**cfg, "lam": lam})
