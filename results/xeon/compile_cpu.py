"""User CPU seconds of g++ compiling the extension's translation units, one at a time, with
the build's own flags: before (d6744eb: four torch-facing files compiled alone) and after
(extension.cpp: the same four compiled as one unit). Writes compile_cpu.tsv beside this file.

    .venv/bin/python results/xeon/compile_cpu.py   # alone on the machine, ~3 min
"""

import resource
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import torch.utils.cpp_extension as ce

from actsparse.inference import kernels as K

REPO = Path(__file__).resolve().parents[2]
CSRC = "src/actsparse/inference/csrc"
BEFORE = "d6744eb"
HEADER = (
    "User CPU seconds of g++ -O3 compiling each translation unit of the extension alone, with"
    f" the build's flags, one at a time: before ({BEFORE}: four torch-facing files compiled"
    " apart) and after (extension.cpp: the same four as one unit); results/xeon/compile_cpu.py."
)
UNITS = {
    "before": ["sparse_ffn.cpp", "decode_engine.cpp", "llama_engine.cpp", "up_screen.cpp"],
    "after": ["extension.cpp"],
}


def checkout(rev: str | None, into: Path) -> Path:
    """The csrc folder at commit `rev` (None: the working tree), copied into `into`."""
    into.mkdir()
    if rev is None:
        for f in (REPO / CSRC).iterdir():
            (into / f.name).write_bytes(f.read_bytes())
        return into
    git = ["git", "-C", str(REPO)]
    names = subprocess.run(
        [*git, "ls-tree", "--name-only", rev, f"{CSRC}/"], capture_output=True, text=True
    ).stdout.split()
    for name in names:
        data = subprocess.run([*git, "show", f"{rev}:{name}"], capture_output=True).stdout
        (into / Path(name).name).write_bytes(data)
    return into


def cpu_seconds(src: Path, flags: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    subprocess.run(
        ["c++", *flags, f"-I{src.parent}", "-c", str(src), "-o", "/dev/null"], check=True
    )
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before


def main() -> None:
    includes = [f"-isystem{p}" for p in ce.include_paths()]
    includes.append(f"-isystem{sysconfig.get_paths()['include']}")
    flags = [
        "-DTORCH_EXTENSION_NAME=x",
        "-DTORCH_API_INCLUDE_EXTENSION_H",
        *includes,
        "-fPIC",
        "-std=c++20",
        "-O3",
        "-fopenmp",
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, rev in (("before", BEFORE), ("after", None)):
            src = checkout(rev, Path(tmp) / label)
            for unit in [*UNITS[label], "sparse_ffn_avx2.cpp"]:
                s = cpu_seconds(src / unit, flags)
                rows.append((label, unit, s))
                print(f"{label}\t{unit}\t{s:.2f}", file=sys.stderr)
    out = Path(__file__).with_name("compile_cpu.tsv")
    with out.open("w") as f:
        f.write(f"# {HEADER} CPU: {K.cpu_model()}.\nbuild\tunit\tuser_cpu_s\n")
        for label, unit, s in rows:
            f.write(f"{label}\t{unit}\t{s:.2f}\n")
        for label in UNITS:
            total = sum(s for b, _, s in rows if b == label)
            f.write(f"{label}\ttotal\t{total:.2f}\n")


if __name__ == "__main__":
    main()
