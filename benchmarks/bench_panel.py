"""(c) Chapter panels in the kernel: open (grid precompute), new picture of a cached run, revisit, off-grid retrain.

Run: .venv/bin/python benchmarks/bench_panel.py [--fast] [--browser] [chapter ...]   (targets: open <= 10 s
(01), new picture of a cached run <= 0.15 s in the kernel and <= 0.25 s in the browser, off-grid retrain <= 1 s).
"new picture of a cached run": every one-slider-away position whose run is cached (precomputed grid, view-only
sliders), drawn for the first time; max over moves. ``--browser`` also opens each chapter's panel in
JupyterLab + Chromium (fast mode, as benchmarks/bench_sliders.py does) and prints both redraw figures side by
side.
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


def browser_new_picture(chapters) -> dict[str, str]:
    """Chapter -> slowest browser move to a new picture of a cached run (bench_sliders' moves), or a reason."""
    import bench_sliders as bs

    chromium = bs.jh.find_chromium()
    if chromium is None:
        return {c: "no chromium" for c in chapters}
    out = {}
    with bs.jh.jupyterlab(env={"REGVIZ_FAST": "1"}) as lab, bs.jh.chromium_context(chromium) as ctx:
        for chapter in chapters:
            page = ctx.new_page()
            try:
                out[chapter] = bs.summarise(bs.bench_chapter(page, lab, chapter, 900))["new picture (cached run)"]
            finally:
                page.close()
                lab.shutdown_kernels()
    return out


def main():
    args = sys.argv[1:]
    fast, with_browser = "--fast" in args, "--browser" in args
    chapters = [a for a in args if not a.startswith("--")] or sorted(PANELS)
    rows = [bench(c, fast) for c in chapters]
    print(f"{'fast' if fast else 'full'} mode, cpu")
    print(table(rows, ("chapter", "open (s)", "new picture of a cached run: max (s)", "median (s)", "moves",
                       "worst revisit (s)", "worst fresh retrain (s)")))
    if with_browser:
        seen = browser_new_picture(chapters)
        print("\nnew picture of a cached run, both figures (targets: kernel <= 0.15 s, browser <= 0.25 s)")
        print(table([(c, r[2], seen[c]) for c, r in zip(chapters, rows)],
                    ("chapter", f"kernel, {'fast' if fast else 'full'} mode (s)", "browser, fast mode (s)")))


if __name__ == "__main__":
    main()
