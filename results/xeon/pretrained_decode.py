"""pretrained_decode's measurement on the dense SmolLM2 and its hard swap (the relufied
models were not on this checkout), beside llama.cpp, written as a pretrained_decode table."""
import sys
from pathlib import Path

import torch
import yaml

from actsparse.core.config import layered, validate_config
from actsparse.inference import llama_benchmark as B
from actsparse.pretrained import source, stages, text
from actsparse.report.tables import write_table


cfg = validate_config(layered(yaml.safe_load(open("config/config.yaml")), yaml.safe_load(open("config/smollm2.yaml"))))
p, d = cfg["pretrained"], cfg["pretrained"]["decode"]
torch.set_num_threads(1)
model_dir = "results/smollm2/models/pretrained/dense"
dense = stages.load_variant(model_dir, "dense", p["hard_swap_activation"])
ids = text.tokenize(dense.tokenizer, Path("results/smollm2/data/val.bin").read_bytes()).ids
setup = B.DecodeSetup([int(t) for t in ids[: d["prompt_tokens"]]], d["new_tokens"], d["threads"], d["repeats"])
rows = []
for variant in ("dense", "hard_swap"):
    lm = stages.load_variant(model_dir, variant, p["hard_swap_activation"])
    rows += B.engine_rows(variant, lm, setup)
    print(variant, "done", file=sys.stderr, flush=True)
files = source.resolve(p["source"])
work = Path("/tmp/scratch/gguf"); work.mkdir(exist_ok=True)
rows += B.llamacpp_rows(files.path if files.kind == "gguf" else None, d["llamacpp"], setup, work)
rows += B.relufied_llamacpp_rows(["hard_swap"], setup)
rows = B.compare(rows)
write_table("pretrained_decode", rows, sys.argv[1], {"run_name": "xeon", "seed": 0, "pretrained": p})
for r in rows:
    print({k: r.get(k) for k in ("engine", "variant", "weights", "path", "threads", "tokens_per_s", "speedup_vs_llamacpp_f32", "status")})
