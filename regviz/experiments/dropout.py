"""Chapter 03: every dropout p on one digits MLP, trained as one batched sweep.

Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from Overfitting" (JMLR 2014).
"""
from __future__ import annotations

from functools import lru_cache

from ..data import load_dataset
from ..device import resolve_device
from ..history import History
from ..models import MLP
from ..sweep import sweep
from ..validate import check_int

PS = (0.0, 0.1, 0.3, 0.5, 0.7)


def train_grid(*, epochs: int = 40, seed: int = 0, device=None, width: int = 256, n_train: int = 300,
               values=PS, lr: float = 1e-3) -> dict[float, History]:
    """Every p at once (one batched ``sweep``): digits, MLP 2 x ``width`` with dropout p after each ReLU, AdamW.

    Results are cached per argument set, so a notebook's sweep and the panel's share one training run.

    Returns:
        ``{p: History}`` (a fresh dict; the Histories are shared with the cache: do not modify them).
    """
    check_int("epochs", epochs)
    return dict(_grid(epochs, seed, str(resolve_device(device)), width, n_train, tuple(values), lr))


@lru_cache(maxsize=8)
def _grid(epochs, seed, device, width, n_train, values, lr):
    data = load_dataset("digits", n_train=n_train, seed=seed, device=device)
    hists = sweep(lambda: MLP(data.in_features, data.num_classes, width=width, depth=2), data, knob="p",
                  values=list(values), epochs=epochs, lr=lr, batch_size=32, seed=seed, device=device,
                  progress=False)
    return tuple(zip(values, hists))
