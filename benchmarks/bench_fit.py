"""(a) regviz.fit vs a plain DataLoader loop with per-batch evaluation, same MLP, data and epochs; and, with
``--old DIR``, this fit vs an older copy of regviz (a folder holding its ``regviz`` package, e.g. made with
``git archive HEAD regviz | tar -x -C DIR``), each timed in a fresh subprocess, alternating, in the same run.

Run: .venv/bin/python benchmarks/bench_fit.py [--old DIR]   (target >= 3x the DataLoader loop; the new fit no
slower than the old one)
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).parent))
from _common import table, timeit  # noqa: E402

import regviz  # noqa: E402

EPOCHS = 10


def dataloader_loop(data):
    """The tutorial loop: DataLoader over a TensorDataset, per-batch loss.item() accumulation for evaluation."""
    torch.manual_seed(0)
    model = regviz.MLP(64, 10, width=256, depth=2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    train = DataLoader(TensorDataset(data.X_train, data.y_train), batch_size=64, shuffle=True)
    evals = [DataLoader(TensorDataset(X, y), batch_size=64) for X, y in
             ((data.X_train, data.y_train), (data.X_val, data.y_val))]
    for _ in range(EPOCHS):
        model.train()
        for X, y in train:
            loss = F.cross_entropy(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for loader in evals:
                total, correct, n = 0.0, 0, 0
                for X, y in loader:
                    logits = model(X)
                    total += F.cross_entropy(logits, y).item() * len(y)
                    correct += (logits.argmax(1) == y).sum().item()
                    n += len(y)


def regviz_fit(data):
    torch.manual_seed(0)
    regviz.fit(regviz.MLP(64, 10, width=256, depth=2), data, epochs=EPOCHS, lr=1e-3, batch_size=64,
               progress=False, device="cpu")


def fit_in_subprocess(root: str) -> float:
    """Median seconds of ``regviz_fit`` with the ``regviz`` package found in ``root``, in a fresh interpreter."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import bench_fit, regviz; from _common import timeit; "
            "d = regviz.load_dataset('digits', device='cpu'); print(timeit(lambda: bench_fit.regviz_fit(d)))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, str(Path(__file__).parent)]))
    out = subprocess.run([sys.executable, "-c", code, root], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def main():
    args = sys.argv[1:]
    old = args[args.index("--old") + 1] if "--old" in args else None
    data = regviz.load_dataset("digits", device="cpu")  # 1200 training images, MLP 64-256-256-10
    base = timeit(lambda: dataloader_loop(data))
    ours = timeit(lambda: regviz_fit(data))
    rows = [("DataLoader loop (baseline)", f"{base:.2f}", "1.0x"), ("regviz.fit", f"{ours:.2f}", f"{base / ours:.1f}x")]
    if old is not None:
        new_root = str(Path(regviz.__file__).resolve().parent.parent)
        times = {"old": [], "new": []}
        for _ in range(5):  # alternate, so that a busy spell hurts both; the best of each
            times["old"].append(fit_in_subprocess(old))
            times["new"].append(fit_in_subprocess(new_root))
        o, n = min(times["old"]), min(times["new"])
        rows += [(f"old regviz.fit ({old}, subprocess)", f"{o:.2f}", f"{base / o:.1f}x"),
                 ("this regviz.fit (subprocess)", f"{n:.2f}", f"{base / n:.1f}x (old/new {o / n:.2f})")]
    print(f"digits, MLP 64-256-256-10, {EPOCHS} epochs, batch 64, {torch.get_num_threads()} threads")
    print(table(rows, ("loop", "seconds", "speed-up")))


if __name__ == "__main__":
    main()
