"""(d) Wall-clock time of each chapter notebook in FAST mode (and optionally full mode).

Run: .venv/bin/python benchmarks/bench_notebooks.py [--full] [notebook ...]   (targets: FAST <= 60 s, full <= 5 min)
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).parent))
from _common import table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def run(path: Path, fast: bool) -> float:
    os.environ["REGVIZ_FAST"] = "1" if fast else "0"
    os.environ.setdefault("MPLBACKEND", "agg")
    nb = nbformat.read(path, as_version=4)
    t = time.perf_counter()
    NotebookClient(nb, timeout=900, resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - t


def main():
    args = [a for a in sys.argv[1:] if a != "--full"]
    fast = "--full" not in sys.argv
    paths = [Path(a) for a in args] or sorted((ROOT / "notebooks").glob("0*.ipynb"))
    rows = [(p.name, "FAST" if fast else "full", f"{run(p, fast):.0f}") for p in paths]
    print(f"{os.cpu_count()} CPU cores")
    print(table(rows, ("notebook", "mode", "seconds")))


if __name__ == "__main__":
    main()
