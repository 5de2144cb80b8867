"""pretrained_decode's measurement on a 2-core AMD EPYC with AVX-512, beside llama.cpp: the
dense SmolLM2, its hard swap and the default run's 20-step relufied model (relufy_lam0), read
from a clean `make reproduce` checkout, with the full config's decode settings; written as a
pretrained_decode table. Usage: python results/epyc/pretrained_decode.py RUN_DIR OUT.parquet
[RUN_NAME] (RUN_DIR: that checkout's results/default, or any run directory holding
models/pretrained/{dense,relufy_lam0} and data/val.bin, such as results/smollm2; RUN_NAME:
the table's run_name, "epyc" unless given)."""

import sys
from pathlib import Path

import torch
import yaml

from actsparse.core.config import layered, validate_config
from actsparse.inference import llama_benchmark as B
from actsparse.pretrained import source, stages, text
from actsparse.report.tables import write_table

run_dir, out = Path(sys.argv[1]), sys.argv[2]
base = yaml.safe_load(open("config/config.yaml"))
cfg = validate_config(layered(base, yaml.safe_load(open("config/smollm2.yaml"))))
p, d = cfg["pretrained"], cfg["pretrained"]["decode"]
torch.set_num_threads(1)  # the engine and llama.cpp take their own thread counts
models = run_dir / "models/pretrained"
model_dirs = {"dense": models / "dense", "hard_swap": models / "dense"}
model_dirs["relufy_lam0"] = models / "relufy_lam0"
dense = stages.load_variant(model_dirs["dense"], "dense", p["hard_swap_activation"])
ids = text.tokenize(dense.tokenizer, (run_dir / "data/val.bin").read_bytes()).ids
prompt = [int(t) for t in ids[: d["prompt_tokens"]]]
setup = B.DecodeSetup(prompt, d["new_tokens"], d["threads"], d["repeats"])
rows = []
for variant, directory in model_dirs.items():
    lm = stages.load_variant(directory, variant, p["hard_swap_activation"])
    rows += B.engine_rows(variant, lm, setup)
    print(variant, "done", file=sys.stderr, flush=True)
files = source.resolve(p["source"])
work = Path("/tmp/scratch/gguf")
work.mkdir(parents=True, exist_ok=True)
rows += B.llamacpp_rows(files.path if files.kind == "gguf" else None, d["llamacpp"], setup, work)
rows += B.relufied_llamacpp_rows(["hard_swap", "relufy_lam0"], setup)
rows = B.compare(rows)
run_name = sys.argv[3] if len(sys.argv) > 3 else "epyc"
write_table("pretrained_decode", rows, out, {"run_name": run_name, "seed": 0, "pretrained": p})
keys = ("engine", "variant", "weights", "path", "threads", "tokens_per_s", "fraction_of_ideal")
for r in rows:
    print({k: r.get(k) for k in keys + ("speedup_vs_llamacpp_f32", "status")})
