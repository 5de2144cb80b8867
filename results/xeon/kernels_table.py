"""kernel_benchmark's synthetic sweep at the seed's shape on this CPU, written as a kernels
table (the stage's schema): 768x3072, 12 layers cycled, 1 and 2 threads, s = 0.875 / 0.9,
both kernel paths (a path the CPU lacks is skipped). The stage itself also needs the byte
models; this is its synthetic half. Usage: python results/xeon/kernels_table.py OUT.parquet
[RUN_NAME] (RUN_NAME: the table's run_name, "xeon" unless given; results/epyc_avx2 uses it
for a CPU without AVX-512)."""
import sys
from actsparse.inference import benchmark as B
from actsparse.report.tables import write_table

sweep = dict(calls=200, warmup=20, batch_sparsity=0.9, sparsities=[0.875, 0.9], threads=[1, 2],
             batches=[], block_ratio=0.5, isas=["avx512", "avx2"])
rows = [{**r, "pattern": r.get("pattern", "synthetic")} for r in
        B.synthetic_rows({"d_model": 768, "d_ffn": 3072, "n_layer": 12}, sweep)]
run_name = sys.argv[2] if len(sys.argv) > 2 else "xeon"
cfg = {"run_name": run_name, "seed": 0, "kernels": sweep}
write_table("kernels", rows, sys.argv[1], cfg)
