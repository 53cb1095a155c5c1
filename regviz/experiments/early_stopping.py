"""Chapter 06: one long MNIST-1D run, and where early stopping would stop on it for any patience, replayed.

Prechelt, "Early Stopping - But When?", in Neural Networks: Tricks of the Trade (Springer, 1998).
"""
from __future__ import annotations

import functools
from typing import Iterable, Sequence

from ..data import load_dataset
from ..device import seeded
from ..history import History
from ..models import MLP
from ..stopping import EarlyStopping
from ..train import fit
from ..validate import check_int, check_number

PATIENCES = (1, 2, 3, 5, 8, 10, 15, 20, 30)
MIN_DELTAS = (0.0, 0.001, 0.01, 0.03)
LABEL_NOISE = (0.0, 0.2, 0.4)


def replay_early_stopping(val_loss: Sequence[float], patience: int, min_delta: float = 0.0) -> tuple[int, int]:
    """Where ``EarlyStopping(patience, min_delta)`` would have stopped on a stored validation curve.

    Feeds the stored losses to ``EarlyStopping.step`` one by one, so the answer is exactly what
    ``fit(..., early_stopping=...)`` would do on the same run (training is deterministic given the seed),
    without retraining.

    Args:
        val_loss: validation loss per epoch (epoch 1 first).
        patience, min_delta: as in ``EarlyStopping``.

    Returns:
        ``(stop_epoch, best_epoch)``, both 1-based; ``stop_epoch == len(val_loss)`` if it never triggers.
        ``best_epoch`` is the epoch whose weights ``restore_best`` would reload.
    """
    if len(val_loss) == 0:
        raise ValueError("val_loss is empty; give at least one epoch")
    es = EarlyStopping(patience=patience, min_delta=min_delta, restore_best=False)
    for epoch, v in enumerate(val_loss, start=1):
        stop, _ = es.step(epoch, float(v))
        if stop:
            return epoch, es.best_epoch or epoch
    return len(val_loss), es.best_epoch or len(val_loss)


@functools.lru_cache(maxsize=8)
def train_run(*, label_noise: float = 0.2, fast: bool = False, device=None, seed: int = 0) -> History:
    """One long MNIST-1D run (MLP, 1000 noisy training labels) whose curve the panel replays (cached per setting)."""
    check_number("label_noise", label_noise, high=1.0, high_inclusive=False)
    data = load_dataset("mnist1d", n_train=1000, n_val=1000, label_noise=label_noise, seed=seed, device=device)
    with seeded(seed, device):
        model = MLP(data.in_features, data.num_classes, width=128, depth=2)
        return fit(model, data, epochs=30 if fast else 80, lr=2e-3, batch_size=100, seed=seed, device=device,
                   progress=False)


def replay_grid(hist: History, patiences: Iterable[int] = PATIENCES,
                min_deltas: Iterable[float] = MIN_DELTAS) -> dict[tuple[int, float], tuple[int, int]]:
    """``{(patience, min_delta): (stop_epoch, best_epoch)}`` for every pair, replayed on ``hist.val_loss``."""
    return {(p, d): replay_early_stopping(hist.val_loss, check_int("patience", p), d)
            for p in patiences for d in min_deltas}


def replayed_run(*, label_noise: float = 0.2, fast: bool = False, device=None, seed: int = 0) -> dict:
    """``train_run`` and its ``replay_grid``: ``{"hist": History, "stops": {(patience, min_delta): (stop, best)}}``."""
    hist = train_run(label_noise=label_noise, fast=fast, device=device, seed=seed)
    return {"hist": hist, "stops": replay_grid(hist)}
