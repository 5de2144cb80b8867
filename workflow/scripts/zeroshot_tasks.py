"""Rule zeroshot_tasks: the zero-shot task files, each pinned by sha256 (BIG-bench from
the bigbench sdist on PyPI), or tiny synthetic ones in the same format (smoke)."""

import sys

if "snakemake" not in globals():  # run by hand: python workflow/scripts/zeroshot_tasks.py --help
    from _standalone import mock_snakemake

    snakemake = mock_snakemake("zeroshot_tasks", __doc__)
sys.stderr = open(snakemake.log[0], "w")

import shutil
import tempfile
from pathlib import Path

from actsparse.pretrained import tasks

cfg = snakemake.params.cfg
for name, out in zip(cfg["tasks"], snakemake.output.tasks, strict=True):
    if cfg["source"] == "bigbench":
        src = tasks.bigbench_task(name)
    else:
        src = tasks.synthetic_tasks(Path(tempfile.mkdtemp()), [name.replace("/", "_")])
        src = next(iter(src.values()))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, out)
    print(f"{name}: {src} -> {out}", file=sys.stderr)
