"""How a FATReLU end point is named after the model it is made from: `<model>_fat<T>`.

The relufy stages score each relufied model also with FATReLU at each threshold T, and the
later stages (CETT, Table 1, decoding) rebuild that variant from the saved model rather
than saving a copy, so the name is the one place the threshold lives. Written and read here
only, so the stages cannot disagree on it.
"""

from __future__ import annotations

_SEP = "_fat"


def fat_variant(model: str, threshold: float) -> str:
    """The variant name of `model` with FATReLU at `threshold` (`%g`: 0.1, not 0.10)."""
    return f"{model}{_SEP}{threshold:g}"


def split_fat(variant: str) -> tuple[str, float | None]:
    """The model a variant is made from and its FATReLU threshold (None: not a FATReLU
    variant). A malformed threshold is an error naming the variant, not a silent ReLU."""
    if _SEP not in variant:
        return variant, None
    model, t = variant.rsplit(_SEP, 1)
    try:
        threshold = float(t)
    except ValueError:
        raise ValueError(
            f"variant {variant!r}: '{_SEP}' must be followed by a FATReLU threshold, got {t!r}"
        ) from None
    if not model or threshold < 0:
        raise ValueError(f"variant {variant!r}: want <model>{_SEP}<T> with T >= 0")
    return model, threshold
