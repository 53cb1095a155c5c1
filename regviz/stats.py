"""Error bars for comparisons over seeds: mean, sample standard deviation, standard errors, the 2-SE rule.

The course's habit: run a headline comparison over at least 3 seeds, print mean ± sd, and claim an effect only
when the difference of two means exceeds twice its standard error (Welch's standard error of a difference of
independent means: sqrt(sd_a²/n_a + sd_b²/n_b); for two settings run on the same seeds, the paired standard
error sd(a_i - b_i)/sqrt(n)).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence


def _values(name: str, values: Iterable[float], at_least: int = 1) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of numbers, got {values!r}") from exc
    if len(out) < at_least:
        raise ValueError(f"{name} has {len(out)} value(s); at least {at_least} are needed")
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name}={out!r} holds a non-finite value (a diverged run?): drop it or say so")
    return out


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (ddof=1) and standard error of the mean of ``n`` values."""

    mean: float
    sd: float
    se: float
    n: int

    def __str__(self) -> str:
        return self.format()

    def format(self, digits: int = 3) -> str:
        """'0.873 ± 0.004' (mean ± sd)."""
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}"


def summarize(values: Iterable[float]) -> Summary:
    """Summarise one setting's values over seeds.

    Args:
        values: one number per seed (at least 1; the sd of a single value is reported as 0 and its se as nan).

    Returns:
        A ``Summary``.
    """
    v = _values("values", values)
    n = len(v)
    mean = math.fsum(v) / n
    if n == 1:
        return Summary(mean, 0.0, math.nan, 1)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in v) / (n - 1))
    return Summary(mean, sd, sd / math.sqrt(n), n)


@dataclass(frozen=True)
class Difference:
    """``a - b`` of two settings' means, its standard error, and whether it passes the 2-SE rule."""

    diff: float
    se: float
    a: Summary
    b: Summary

    @property
    def z(self) -> float:
        """diff / se (Welch's t statistic); inf when se is 0 and diff is not."""
        if self.se == 0:
            return 0.0 if self.diff == 0 else math.copysign(math.inf, self.diff)
        return self.diff / self.se

    @property
    def beyond_noise(self) -> bool:
        """True when |diff| > 2 se: the only differences a chapter calls an effect."""
        return abs(self.z) > 2

    def __str__(self) -> str:
        verdict = "beyond 2 SE" if self.beyond_noise else "within noise"
        return f"{self.diff:+.3f} ± {self.se:.3f} (SE), {abs(self.z):.1f} SE: {verdict}"


def difference(a: Iterable[float], b: Iterable[float]) -> Difference:
    """Compare two settings, each measured over independent seeds (at least 2 each).

    Args:
        a, b: one number per seed for each setting.

    Returns:
        ``Difference`` with diff = mean(a) - mean(b) and se = sqrt(sd_a²/n_a + sd_b²/n_b).
    """
    sa, sb = summarize(_values("a", a, 2)), summarize(_values("b", b, 2))
    return Difference(sa.mean - sb.mean, math.hypot(sa.se, sb.se), sa, sb)


def paired_difference(a: Iterable[float], b: Iterable[float]) -> Difference:
    """Compare two settings measured on the SAME seeds (same data subset and initialisation per seed).

    The per-seed differences a_i - b_i cancel what the seeds share (which images were drawn), so the
    standard error is sd(a - b) / sqrt(n): the paired t statistic (scipy.stats.ttest_rel).

    Args:
        a, b: one number per seed, in the same seed order (at least 2 pairs).
    """
    va, vb = _values("a", a, 2), _values("b", b, 2)
    if len(va) != len(vb):
        raise ValueError(f"paired_difference needs one value per seed in both: got {len(va)} and {len(vb)}")
    d = summarize([x - y for x, y in zip(va, vb)])
    return Difference(d.mean, d.se, summarize(va), summarize(vb))


def binomial_se(accuracy: float, n: int) -> float:
    """Standard error of an accuracy measured on ``n`` independent examples: sqrt(acc (1 - acc) / n)."""
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"n={n!r}: give the number of evaluated examples, an int >= 1")
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy={accuracy!r} is not in [0, 1]")
    return math.sqrt(accuracy * (1 - accuracy) / n)


def table(rows: dict[str, Sequence[float]], *, digits: int = 3) -> str:
    """A plain-text table, one line per setting: name, mean ± sd, n."""
    width = max((len(k) for k in rows), default=0)
    return "\n".join(f"{k:{width}s}  {summarize(v).format(digits)}  (n={len(v)})" for k, v in rows.items())
