"""(b) regviz.sweep (K settings as one stacked model) vs K sequential regviz.fit calls.

Run: .venv/bin/python benchmarks/bench_sweep.py [epochs]   (K=8, 100 epochs; target >= 2x, goal 3x, on 2 CPU cores)
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import table, timeit  # noqa: E402

import regviz  # noqa: E402

EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 100
VALUES = [0.0, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]


def make():
    return regviz.MLP(64, 10, width=256, depth=2)


def sequential(data, knob):
    for v in VALUES:
        torch.manual_seed(0)
        kw = {"weight_decay": v} if knob == "weight_decay" else {}
        model = regviz.MLP(64, 10, width=256, depth=2, p=min(v, 0.9)) if knob == "p" else make()
        regviz.fit(model, data, epochs=EPOCHS, progress=False, device="cpu", **kw)


def batched(data, knob):
    vals = [min(v, 0.9) for v in VALUES] if knob == "p" else VALUES
    regviz.sweep(make, data, knob=knob, values=vals, epochs=EPOCHS, progress=False, device="cpu")


def main():
    data = regviz.load_dataset("digits", n_train=500, device="cpu")
    rows = []
    for knob in ("weight_decay", "p"):
        seq = timeit(lambda: sequential(data, knob), repeats=2)
        bat = timeit(lambda: batched(data, knob), repeats=2)
        rows.append((knob, len(VALUES), f"{seq:.2f}", f"{bat:.2f}", f"{seq / bat:.1f}x"))
    print(f"digits n_train=500, MLP 64-256-256-10, {EPOCHS} epochs, {torch.get_num_threads()} threads")
    print(table(rows, ("knob", "K", "sequential fit (s)", "sweep (s)", "throughput ratio")))


if __name__ == "__main__":
    main()
