"""bf16 autocast against fp32 for the default byte model's training step on this CPU (batch
8 x 256 bytes, 2 threads, 20 timed steps after 5 warm-up, random data), two rounds of each,
alternating. Usage, from the repository root: .venv/bin/python results/xeon/precision_probe.py"""

import time

import torch
import torch.nn.functional as F

from actsparse.core import model as M
from actsparse.core.train import autocast

torch.manual_seed(0)
torch.set_num_threads(2)
cfg = M.ModelConfig(n_layer=4, n_head=4, n_embd=256, block_size=256, ffn_mult=4)
x = torch.randint(0, 256, (8, 256))
y = torch.randint(0, 256, (8, 256))
for precision in ["fp32", "bf16", "fp32", "bf16"]:
    m = M.ByteGPT(cfg)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, foreach=False)
    for i in range(25):
        if i == 5:
            start = time.perf_counter()
        with autocast(torch.device("cpu"), precision):
            loss = F.cross_entropy(m(x).flatten(0, 1).float(), y.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(precision, f"{20 / (time.perf_counter() - start):.2f} steps/s", flush=True)
