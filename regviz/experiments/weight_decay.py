"""Chapter 02: one digits run under an L2 or L1 penalty of strength lambda, with weight snapshots.

L2 as SGD weight decay on the weights only (Krogh & Hertz, NeurIPS 1991); L1 by subgradient or by the proximal
(soft-threshold) step (Tibshirani, "Regression Shrinkage and Selection via the Lasso", 1996).
"""
from __future__ import annotations

import torch

from ..data import load_dataset
from ..device import seeded
from ..models import MLP
from ..train import fit
from ..validate import check_choice, check_number

LAMBDAS = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
PENALTIES = ("L2", "L1")
KINDS = ("L2", "L1", "L1-prox")  # what train_setting accepts; the panel offers PENALTIES
DEFAULT = dict(penalty="L2", lam=1e-3)


def _weights(model) -> torch.Tensor:
    """Every weight matrix's entries (biases and norm parameters left out), flat, on the CPU."""
    return torch.cat([p.detach().flatten().cpu() for p in model.parameters() if p.ndim >= 2])


def penalty_kwargs(penalty: str, lam: float) -> dict:
    """``fit``'s keyword arguments for one penalty: ``"L2"`` decays the weights only (``decay="weights"``),
    ``"L1"`` adds ``lam * sum|w|`` to the loss (subgradient steps), ``"L1-prox"`` soft-thresholds after each step."""
    check_choice("penalty", penalty, KINDS)
    check_number("lam", lam)
    if penalty == "L2":
        return {"weight_decay": lam, "decay": "weights"}
    return {"l1": lam, "l1_proximal": penalty == "L1-prox"}


def train_setting(*, penalty: str, lam: float, epochs: int = 60, marks=(), seed: int = 0, device=None,
                  lr: float = 0.05, momentum: float = 0.9, n_train: int = 300) -> dict:
    """One digits run (``n_train`` examples, MLP 2x128, SGD, batch 32) under ``penalty`` of strength ``lam``.

    Returns:
        ``{"history": History, "weights": {epoch: flat weight tensor}}`` for each epoch in ``marks``.
    """
    kwargs = penalty_kwargs(penalty, lam)
    data = load_dataset("digits", n_train=n_train, seed=seed, device=device)
    snaps = {}

    def snap(epoch, m, hist):
        if epoch in marks:
            snaps[epoch] = _weights(m)

    with seeded(seed, device):
        model = MLP(data.in_features, data.num_classes, width=128, depth=2)
        hist = fit(model, data, optimizer="sgd", epochs=epochs, lr=lr, momentum=momentum, batch_size=32, seed=seed,
                   device=device, progress=False, on_epoch_end=snap, **kwargs)
    return {"history": hist, "weights": snaps}
