"""Checkpoints and every other file we write: written atomically, read with
torch.load(weights_only=True).

A checkpoint holds only tensors, dicts, lists and plain numbers, so loading never
executes pickled code. A model file is {"format", "model_config", "model", "masks",
"meta"}; a training checkpoint adds "train" (step, optimiser state, curve so far).
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

from actsparse.core.model import ByteGPT, ModelConfig

FORMAT = "actsparse-v1"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, corrupt or of another format."""


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call write(f) on a temporary file beside path, fsync it, then rename it over path:
    a crash or a kill never leaves half a file under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_atomic(obj: dict[str, Any], path: str | Path) -> None:
    """torch.save that never leaves a half-written checkpoint under the final name."""
    atomic_write(path, lambda f: torch.save(obj, f))


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except (
        RuntimeError,
        EOFError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        ValueError,
        OSError,
    ) as e:
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt ({type(e).__name__}: {e}); "
            f"delete it and rerun the stage that writes it"
        ) from e
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} is not an {FORMAT} checkpoint")
    return obj


def model_payload(model: ByteGPT, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        # the byte model's config; a pretrained model's lives in its saved directory
        "model_config": model.cfg.to_dict() if isinstance(model, ByteGPT) else None,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "masks": {k: v.cpu() for k, v in model.masks.items()},
        "meta": dict(meta or {}),
    }


def save_model(model: ByteGPT, path: str | Path, meta: dict[str, Any] | None = None) -> None:
    save_atomic(model_payload(model, meta), path)


def model_from_payload(obj: dict[str, Any], device: str | torch.device = "cpu") -> ByteGPT:
    model = ByteGPT(ModelConfig.from_dict(obj["model_config"]))
    model.load_state_dict(obj["model"])
    model.to(device)
    if obj.get("masks"):
        model.set_masks(obj["masks"])
    return model


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[ByteGPT, dict]:
    """The model and its meta dict (config hash, seed, ...)."""
    obj = load(path)
    try:
        return model_from_payload(obj, device), obj.get("meta", {})
    except (KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} does not hold a valid model: {e}") from e
