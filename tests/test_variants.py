"""The FATReLU variant name round-trips, and a malformed one is an error naming it."""

import pytest

from actsparse.core.variants import fat_variant, split_fat


@pytest.mark.parametrize("model", ["relufy_lam0", "relufy_lam0.5", "relufy_sched_linear2"])
@pytest.mark.parametrize("t", [0.02, 0.1, 1.0])
def test_fat_name_round_trips(model: str, t: float) -> None:
    assert split_fat(fat_variant(model, t)) == (model, t)


def test_a_plain_variant_has_no_threshold() -> None:
    assert split_fat("stage2") == ("stage2", None)


@pytest.mark.parametrize("bad", ["relufy_lam0_fatx", "_fat0.1", "relufy_lam0_fat-1"])
def test_a_malformed_fat_variant_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match="variant"):
        split_fat(bad)
