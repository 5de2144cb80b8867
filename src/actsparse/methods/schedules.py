"""L1 schedules for the relufication fine-tune, and FATReLU thresholds applied after it.

ProSparse's observation: a large L1 coefficient from the first step costs quality, because
the model is penalised before the ReLU swap has been repaired. Raising the coefficient
progressively (smoothly or in stages) lets the fine-tune first recover, then sparsify.
A constant lambda is the schedule with no ramp, so the seed's recipe is one case of this.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

RAMPS = ("constant", "linear", "stepwise")


@dataclass(frozen=True)
class L1Schedule:
    """lambda(step) for a fine-tune of `steps` steps.

    linear: 0 -> peak over the first ramp_frac of the steps, then held at peak.
    stepwise: the same ramp in `stages` equal plateaus (peak/stages, 2 peak/stages, ...),
    the first plateau starting at step 0.
    """

    name: str
    ramp: str = "constant"
    peak: float = 0.0
    stages: int = 4
    ramp_frac: float = 0.8

    def __post_init__(self) -> None:
        if self.ramp not in RAMPS:
            raise ValueError(f"schedule {self.name!r}: ramp {self.ramp!r} is not one of {RAMPS}")
        if self.peak < 0 or self.stages < 1 or not 0 < self.ramp_frac <= 1:
            raise ValueError(
                f"schedule {self.name!r}: need peak >= 0, stages >= 1, 0 < ramp_frac <= 1"
            )

    @classmethod
    def constant(cls, lam: float) -> L1Schedule:
        return cls(name=f"lam{lam:g}", ramp="constant", peak=lam)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> L1Schedule:
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lam_at(self, step: int, steps: int) -> float:
        if self.ramp == "constant":
            return self.peak
        progress = min(1.0, step / max(1.0, self.ramp_frac * steps))
        if self.ramp == "linear":
            return self.peak * progress
        stage = min(self.stages, math.floor(progress * self.stages) + 1)
        return self.peak * stage / self.stages

    def mean_lam(self, steps: int) -> float:
        """The average coefficient over the fine-tune: how much L1 pressure it applied in all."""
        return sum(self.lam_at(s, steps) for s in range(steps)) / steps


def mean_abs(acts: dict[str, list[torch.Tensor]]) -> torch.Tensor:
    """mean |a| over the post-activation values (the down projection's input), all layers."""
    return torch.stack([a.float().abs().mean() for a in acts["ffn_post"]]).mean()


class ScheduledL1:
    """lambda(step) * mean |a|: the relufication regulariser (see train.Regulariser); a
    constant lambda is `ScheduledL1.constant(lam)`."""

    points = ("ffn_post",)

    def __init__(self, schedule: L1Schedule, steps: int) -> None:
        self.schedule, self.steps = schedule, steps

    @classmethod
    def constant(cls, lam: float) -> ScheduledL1:
        return cls(L1Schedule.constant(lam), steps=1)

    def __call__(self, step: int, acts: dict[str, list[torch.Tensor]]) -> torch.Tensor:
        return self.schedule.lam_at(step, self.steps) * mean_abs(acts)


def relufy_schedules(relufy: dict[str, Any]) -> dict[str, L1Schedule]:
    """Every schedule the `relufy` config section runs, by name: its constant lams, then
    its named schedules (the names are the `schedule` column of the relufy table)."""
    out = {s.name: s for s in map(L1Schedule.constant, relufy.get("lams", []))}
    for d in relufy.get("schedules", []):
        s = L1Schedule.from_dict(d)
        if s.name in out:
            raise ValueError(f"relufy schedule name {s.name!r} is used twice")
        out[s.name] = s
    return out
