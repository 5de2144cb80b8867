"""Rule kernel_benchmark: sparse FFN kernels timed against the fastest dense torch call."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/kernel_benchmark.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("kernel_benchmark", __doc__)
sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

from actsparse.core.evaluate import load_for_eval, record_ffn_inputs
from actsparse.inference import kernels as K
from actsparse.inference.benchmark import Layers, real_rows, synthetic_rows
from actsparse.report.tables import write_table

cfg = snakemake.params.cfg
if why := K.unavailable():
    write_table("kernels", [], snakemake.output.table, cfg, status=why)
else:
    k = cfg["kernels"]
    rows = []
    for shape in k["shapes"]:
        print(f"synthetic {shape}", file=sys.stderr)
        rows += synthetic_rows(shape, k)
    for path in snakemake.input.models:
        name = Path(path).stem
        print(f"real patterns of {name}", file=sys.stderr)
        model, val, starts = load_for_eval(path, snakemake.input.val, k["real_windows"])
        layers, weight_sparsity = Layers.from_model(model)
        acts = record_ffn_inputs(model, val, starts)
        rows += real_rows(
            name, layers, acts, weight_sparsity, k["threads"], k["calls"], k["warmup"]
        )
    write_table("kernels", rows, snakemake.output.table, cfg)
