"""Real compressors as the external yardstick: bits per byte of gzip, bzip2 and xz.

We run the command-line tools themselves (not a library binding) so the numbers are
exactly what a reader gets by typing `gzip -9 < test.bin | wc -c`.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass

COMPRESSORS: dict[str, list[str]] = {
    "gzip-9": ["gzip", "-9", "-c", "-n"],
    "bzip2-9": ["bzip2", "-9", "-c"],
    "xz-9e": ["xz", "-9e", "-c"],
}


class CompressorMissing(RuntimeError):
    """A compressor binary is not on PATH."""


@dataclass(frozen=True)
class CompressorResult:
    name: str
    n_bytes: int
    compressed_bytes: int
    wall_s: float

    @property
    def bpb(self) -> float:
        return 8.0 * self.compressed_bytes / self.n_bytes


def compress_size(data: bytes, name: str) -> CompressorResult:
    cmd = COMPRESSORS[name]
    if shutil.which(cmd[0]) is None:
        raise CompressorMissing(
            f"'{cmd[0]}' is not installed; it is needed for the {name} "
            f"reference row (Debian: apt-get install {cmd[0]})"
        )
    t0 = time.perf_counter()
    out = subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
    return CompressorResult(name, len(data), len(out), time.perf_counter() - t0)


def reference_bpb(data: bytes) -> list[CompressorResult]:
    return [compress_size(data, name) for name in COMPRESSORS]
