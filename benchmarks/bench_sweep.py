"""(b) regviz.sweep (K settings as one stacked model) vs K sequential regviz.fit calls, for MLPs and CNNs.

Each row also prints a FLOP bound: the time the batched products alone (linear layers and convolutions, forward
and backward) would take at this CPU's measured float32 matmul rate, and the fraction of it the sweep reaches.

Run: .venv/bin/python benchmarks/bench_sweep.py [epochs]   (K=8; target >= 2x on 2 CPU cores)
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _common import table, timeit  # noqa: E402

import regviz  # noqa: E402
from regviz.data import Dataset, find_fashion_mnist  # noqa: E402
from regviz.device import seeded  # noqa: E402

torch.set_num_threads(2)
EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
VALUES = [0.0, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]  # K = 8


def matmul_peak(n: int = 1024, repeats: int = 10) -> float:
    """Best float32 FLOP/s of an (n, n) @ (n, n) product on this CPU, at the current thread count."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_seconds(lambda: a @ b) for _ in range(repeats))
    return 2 * n ** 3 / best


def _seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def flops_per_example(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Forward FLOPs of one example through ``model``'s Linear and Conv layers (2 per multiply-add)."""
    total = []

    def count(layer, inputs, out):
        if isinstance(layer, nn.Linear):
            total.append(2 * layer.in_features * layer.out_features)
        else:  # conv: every output position is C_in/groups * prod(kernel) multiply-adds per output channel
            k = layer.in_channels // layer.groups * torch.tensor(layer.kernel_size).prod().item()
            total.append(2 * k * out[0].numel())

    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))]
    with torch.no_grad():
        model.eval()(torch.zeros(1, *input_shape))
    for h in hooks:
        h.remove()
    return float(sum(total))


def bound_seconds(make, data, peak: float) -> float:
    """K models' batched products per run at ``peak``: training forward + backward (3x forward) on every training
    example, one evaluation forward on train and validation sets, each epoch."""
    fwd = flops_per_example(make(), data.input_shape)
    per_epoch = 3 * fwd * len(data.y_train) + fwd * (len(data.y_train) + len(data.y_val))
    return len(VALUES) * EPOCHS * per_epoch / peak


def sequential(make, data, **kw):
    for v in VALUES:
        with seeded(0):
            model = make()
        regviz.fit(model, data, epochs=EPOCHS, weight_decay=v, progress=False, device="cpu", **kw)


def batched(make, data, **kw):
    regviz.sweep(make, data, knob="weight_decay", values=VALUES, epochs=EPOCHS, progress=False, device="cpu", **kw)


def image_data():
    """FashionMNIST (28x28) where it is installed, else random 28x28 images of the same size."""
    if find_fashion_mnist() is not None:
        return regviz.load_dataset("fashion_mnist", n_train=500, n_val=250, device="cpu"), "fashion_mnist"
    g = torch.Generator().manual_seed(0)
    X, y = torch.rand(750, 1, 28, 28, generator=g), torch.randint(0, 10, (750,), generator=g)
    return Dataset(name="random", X_train=X[:500], y_train=y[:500], X_val=X[500:], y_val=y[500:], num_classes=10,
                   input_shape=(1, 28, 28)), "random 28x28"


def main():
    peak = matmul_peak()
    digits = regviz.load_dataset("digits", n_train=500, device="cpu")
    images, name = image_data()
    cases = [("MLP 64-256-256-10", "digits n=500", lambda: regviz.MLP(64, 10, width=256, depth=2), digits, {}),
             ("CNN 1-8-16 conv, 28x28", f"{name} n=500", lambda: regviz.CNN((1, 28, 28), 10, channels=8), images,
              {"batch_size": 128})]
    rows = []
    for label, dname, make, data, kw in cases:
        seq = timeit(lambda: sequential(make, data, **kw), repeats=1)
        bat = timeit(lambda: batched(make, data, **kw), repeats=1)
        bound = bound_seconds(make, data, peak)
        rows.append((label, dname, len(VALUES), f"{seq:.2f}", f"{bat:.2f}", f"{seq / bat:.1f}x", f"{bound:.2f}",
                     f"{bound / bat:.0%}"))
    print(f"weight_decay sweeps, {EPOCHS} epochs, {torch.get_num_threads()} threads, "
          f"matmul peak {peak / 1e9:.0f} GFLOP/s (1024^2 float32)")
    print(table(rows, ("model", "data", "K", "sequential fit (s)", "sweep (s)", "throughput ratio",
                       "FLOP bound (s)", "of bound")))


if __name__ == "__main__":
    main()
