"""Small timing helpers shared by the benchmark scripts (median of repeats, printed tables)."""
from __future__ import annotations

import statistics
import time


def timeit(fn, repeats: int = 3) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` runs (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def table(rows: list[tuple], header: tuple) -> str:
    """Markdown table text."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
