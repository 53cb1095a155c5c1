"""(c) Chapter panels in the kernel: open (grid precompute), new picture of a cached run, revisit, off-grid retrain.

Run: .venv/bin/python benchmarks/bench_panel.py [--fast] [chapter ...]   (targets: open <= 10 s (01), new picture
of a cached run <= 0.15 s, off-grid retrain <= 1 s). "new picture of a cached run": every one-slider-away
position whose run is cached (precomputed grid, view-only sliders), drawn for the first time; max over moves.
Browser-side latency: benchmarks/bench_sliders.py.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import table  # noqa: E402

from regviz.panels import PANELS, open_panel  # noqa: E402


def bench(chapter: str, fast: bool):
    t = time.perf_counter()
    p = open_panel(chapter, fast=fast, device="cpu")
    opened = time.perf_counter() - t
    default = p.settings
    new_picture, revisit, fresh = [], [], []
    for name, values in p.positions().items():  # every cached one-slider-away setting: a picture not drawn yet
        for v in values:
            s = {**default, name: v}
            if v == default[name] or p._key(s) not in p.cache:
                continue
            p.set(**s)
            new_picture.append(p.last_seconds)
            p.set(**default)
            revisit.append(p.last_seconds)
    # an off-grid combination: the last position of the first two run sliders together (trains)
    names = [n for n in p.positions() if n not in p.view_only]
    if len(names) >= 2:
        p.set(**{n: p.positions()[n][-1] for n in names[:2]})
        (new_picture if p.last_cached else fresh).append(p.last_seconds)
    fmt = lambda xs: f"{max(xs):.3f}" if xs else "-"  # noqa: E731
    med = lambda xs: f"{statistics.median(xs):.3f}" if xs else "-"  # noqa: E731
    return (chapter, f"{opened:.1f}", fmt(new_picture), med(new_picture), len(new_picture), fmt(revisit),
            fmt(fresh))


def main():
    args = sys.argv[1:]
    fast = "--fast" in args
    chapters = [a for a in args if a != "--fast"] or sorted(PANELS)
    rows = [bench(c, fast) for c in chapters]
    print(f"{'fast' if fast else 'full'} mode, cpu")
    print(table(rows, ("chapter", "open (s)", "new picture of a cached run: max (s)", "median (s)", "moves",
                       "worst revisit (s)", "worst fresh retrain (s)")))


if __name__ == "__main__":
    main()
