"""Grading throughput with and without the bubblewrap sandbox, in one run: 10 copies of chapter 01.

Run: .venv/bin/python benchmarks/bench_grade.py [--copies 10] [--jobs 2] [--quick]
Prints seconds and notebooks per minute for each sandbox and the ratio bwrap / none (target <= 1.10).
Full FAST runs by default (what final marks use); --quick runs only the cells the exercises need.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main():
    from regviz.homework import grade

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--copies", type=int, default=10)
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    reference = ROOT / "notebooks" / "01_overfitting.ipynb"
    rows, seconds = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "subs"
        subs.mkdir()
        for i in range(args.copies):
            (subs / f"copy{i:02d}.ipynb").write_bytes(reference.read_bytes())
        for sandbox in ("none", "bwrap"):
            load = os.getloadavg()[0]
            t = time.perf_counter()
            grades = grade(subs, Path(tmp) / f"{sandbox}.csv", chapter="01", notebooks=reference.parent, jobs=args.jobs,
                           quick=args.quick, sandbox=sandbox, log=None)
            seconds[sandbox] = time.perf_counter() - t
            full = sum(g.total == 4 for g in grades)
            rows.append((sandbox, f"{seconds[sandbox]:.0f}", f"{60 * args.copies / seconds[sandbox]:.2f}",
                         f"{full}/{args.copies}", f"{load:.1f} -> {os.getloadavg()[0]:.1f}"))
    print(f"{args.copies} copies of chapter 01, {'quick' if args.quick else 'full FAST'} runs, {args.jobs} kernels at a time, "
          f"{os.cpu_count()} CPU cores")
    print(table(rows, ("sandbox", "seconds", "notebooks/min", "full marks", "load average")))
    print(f"ratio bwrap / none: {seconds['bwrap'] / seconds['none']:.3f}")


if __name__ == "__main__":
    main()
