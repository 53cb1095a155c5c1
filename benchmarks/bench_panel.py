"""(c) Chapter panels in the kernel: open (grid precompute), grid redraw, revisit, off-grid retrain.

Run: .venv/bin/python benchmarks/bench_panel.py [chapter ...]   (targets for 01: open <= 10 s,
grid move <= 0.1 s, off-grid retrain <= 1 s). Browser-side latency: benchmarks/bench_sliders.py.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import table  # noqa: E402

from regviz.panels import PANELS, open_panel  # noqa: E402


def bench(chapter: str):
    t = time.perf_counter()
    p = open_panel(chapter, fast=False, device="cpu")
    opened = time.perf_counter() - t
    grid, fresh, revisit = [], [], []
    default = p.settings
    for name, values in p.positions().items():
        for v in values[:3]:
            if v == default[name]:
                continue
            p.set(**{name: v})
            (grid if p.last_cached else fresh).append(p.last_seconds)
            p.set(**default)
            revisit.append(p.last_seconds)
    # an off-grid combination: the last position of the first two sliders together
    names = list(p.positions())
    if len(names) >= 2:
        p.set(**{n: p.positions()[n][-1] for n in names[:2]})
        (grid if p.last_cached else fresh).append(p.last_seconds)
    fmt = lambda xs: f"{max(xs):.2f}" if xs else "-"  # noqa: E731
    return chapter, f"{opened:.1f}", fmt(grid), fmt(revisit), fmt(fresh)


def main():
    chapters = sys.argv[1:] or sorted(PANELS)
    rows = [bench(c) for c in chapters]
    print(table(rows, ("chapter", "open (s)", "worst grid move (s)", "worst revisit (s)", "worst fresh retrain (s)")))


if __name__ == "__main__":
    main()
