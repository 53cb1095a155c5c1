"""Argument checks shared by the whole package: each raises a ``ValueError`` naming what was given and what is allowed."""
from __future__ import annotations

import math
from typing import Any, Iterable


def check_int(name: str, value: Any, *, low: int = 1) -> int:
    """``value`` must be an int (not a bool) >= ``low``; returns it."""
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= low):
        raise ValueError(f"{name}={value!r} must be an int >= {low}")
    return value


def check_number(name: str, value: Any, *, low: float = 0.0, high: float | None = None,
                 high_inclusive: bool = True) -> float:
    """``value`` must be a finite real number in ``[low, high]`` (``[low, high)`` if not ``high_inclusive``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= low
    if ok and high is not None:
        ok = value <= high if high_inclusive else value < high
    if not ok:
        where = f">= {low:g}" if high is None else f"in [{low:g}, {high:g}{']' if high_inclusive else ')'}"
        raise ValueError(f"{name}={value!r} must be a finite number {where}")
    return float(value)


def check_probability(name: str, value: Any) -> float:
    """A probability that may not be 1 (dropout p, label-noise rate): a number in [0, 1)."""
    return check_number(name, value, low=0.0, high=1.0, high_inclusive=False)


def check_choice(name: str, value: Any, allowed: Iterable) -> Any:
    """``value`` must be one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name}={value!r}; allowed: {', '.join(str(a) for a in allowed)}")
    return value
