"""The zero-shot tasks: BIG-bench multiple-choice task files from the pinned `bigbench`
1.0.0 sdist on PyPI (each file pinned by its own sha256; only the files used are
extracted), or a few tiny synthetic tasks in the same format for the smoke run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from actsparse.core.checkpoint import atomic_write
from actsparse.core.corpus import default_cache_dir
from actsparse.core.registry import Artifact, extract_member

BIGBENCH = Artifact(
    "bigbench", "1.0.0", "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2", "sdist"
)
# task -> sha256 of its task.json (bigbench/benchmark_tasks/<task>/task.json)
BIGBENCH_TASKS = {
    "social_iqa": "edc9f568b70ae6d4af0783764dbe4e4f18aa1242c675a93f534338d73a565348",
    "goal_step_wikihow/goal_inference": (
        "ae9d68546ae17707034b284444169b6035ea291dfab15826edaa867888090de6"
    ),
    "winowhy": "c36fa38ab146fd7cc60e9f4b7a34c979c5ffbcb4a6870302bf8d785fbe64d1f6",
    "strategyqa": "60af9081fed20102fd8bb1e02dc7d9f12238efcba33e4c1a56b4d61cb6409803",
    "timedial": "fccc6b6981fcd3bacdf9a3467e6be9ada9efcd75510175d98b1c8e9269bb5cfb",
    "abstract_narrative_understanding/4_distractors": (
        "66ed0deb50b8d8fafdc54fb90f96dcfdc7d814f281ca4d96347954178e8aa55b"
    ),
    "hyperbaton": "8cd85fac8281210a1276a82fddd493a27b0484b84ddf65f0b4f9b4476d6233e2",
}


def bigbench_task(name: str, cache_dir: Path | None = None) -> Path:
    if name not in BIGBENCH_TASKS:
        raise ValueError(f"no pinned BIG-bench task {name!r}; pinned: {sorted(BIGBENCH_TASKS)}")
    member = f"bigbench/benchmark_tasks/{name}/task.json"
    return extract_member(BIGBENCH, member, cache_dir or default_cache_dir(), BIGBENCH_TASKS[name])


def synthetic_tasks(directory: Path, names: Sequence[str]) -> dict[str, Path]:
    """Tiny multiple-choice tasks in BIG-bench's format (no download): what the smoke run
    scores, so every zero-shot code path runs on any machine."""
    pairs = [("cat", "dog"), ("red", "blue"), ("one", "two"), ("sun", "moon"), ("up", "down")]
    out = {}
    for k, name in enumerate(names):
        examples = [
            {"input": f"The opposite of {a} is", "target_scores": {b: 1, a: 0, "tree": 0}}
            for a, b in pairs[k % 2 :] + pairs[: k % 2]
        ]
        path = directory / f"{name}.json"
        data = json.dumps({"name": name, "examples": examples}).encode()
        atomic_write(path, lambda f, data=data: f.write(data))
        out[name] = path
    return out
