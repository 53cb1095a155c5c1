"""Execute chapter notebooks in place, in full mode (FAST=False), saving outputs and widget state.

This is how the committed notebooks are produced (the test suite checks that they come from full runs):

    .venv/bin/python scripts/execute_notebooks.py                   # every chapter
    .venv/bin/python scripts/execute_notebooks.py notebooks/07_llm_z_loss.ipynb --threads 2

Each notebook runs in a fresh kernel with its working directory set to notebooks/ (so results/ resolves),
REGVIZ_FAST=0, REGVIZ_FRAMES=1 (panels save their precomputed pictures for the website) and the given torch
thread count; the time each took is printed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def execute(path: Path, *, threads: int, timeout: int = 1800) -> float:
    """Run ``path`` top to bottom in full mode and write it back with its outputs; returns seconds taken."""
    nb = nbformat.read(path, as_version=4)
    # REGVIZ_FRAMES=1: panels also save every precomputed setting's picture (the website's static sliders)
    env = {"REGVIZ_FAST": "0", "REGVIZ_FRAMES": "1", "OMP_NUM_THREADS": str(threads),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    t = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute(env={**os.environ, **env})
    seconds = time.perf_counter() - t
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Execute chapter notebooks in place in full mode.")
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/0*.ipynb")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: all cores)")
    args = ap.parse_args(argv)
    if args.threads < 1:
        sys.exit(f"--threads {args.threads}: use 1 or more")
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("0*.ipynb"))
    for p in paths:
        if not p.is_file():
            sys.exit(f"{p}: no such notebook")
        print(f"{p.name}: {execute(p.resolve(), threads=args.threads):.0f} s", flush=True)


if __name__ == "__main__":
    main()
