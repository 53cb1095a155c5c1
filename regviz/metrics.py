"""Metrics: accuracy, the generalisation gap, and a learning-curve diagnosis."""
from __future__ import annotations

import torch

from .history import History


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows whose arg-max matches the label.

    Args:
        logits: (N, K).  y: (N,) labels, or (N, K) soft targets (their arg-max is used).
    """
    if y.ndim == 2:
        y = y.argmax(1)
    return (logits.argmax(1) == y).float().mean().item()


def generalisation_gap(hist: History, *, metric: str = "loss", epoch: int | None = None) -> float:
    """Validation minus training loss (``metric="loss"``) or training minus validation accuracy (``"acc"``).

    Positive means the model does better on data it was trained on. ``epoch`` is 1-based; default: last.
    """
    if metric not in ("loss", "acc"):
        raise ValueError(f"metric={metric!r}; allowed: 'loss', 'acc'")
    series = hist.loss_gap if metric == "loss" else hist.acc_gap
    if not series:
        raise ValueError("the history has no epochs")
    if epoch is None:
        return series[-1]
    if not 1 <= epoch <= len(series):
        raise ValueError(f"epoch={epoch!r}: use 1..{len(series)}")
    return series[epoch - 1]


def diagnose(hist: History, *, underfit_acc: float = 0.9, gap_tol: float = 0.05, rise_tol: float = 0.05) -> str:
    """Name the regime a learning curve shows, with simple, stated rules.

    - ``"underfitting"``: final training accuracy below ``underfit_acc`` (the model cannot even fit its data);
    - ``"overfitting"``: validation loss ended more than ``rise_tol`` (relative) above its minimum, and
      the accuracy gap exceeds ``gap_tol``;
    - ``"beginning to overfit"``: validation loss has passed its minimum but by less than that, or the
      gap is large while validation loss still falls;
    - ``"good fit"``: otherwise.

    The thresholds are teaching defaults, not universal constants: look at the curves too.
    """
    if not hist.val_loss:
        raise ValueError("the history has no epochs")
    best = min(hist.val_loss)
    rise = (hist.val_loss[-1] - best) / max(abs(best), 1e-12)
    gap = hist.acc_gap[-1]
    if hist.train_acc[-1] < underfit_acc:
        return "underfitting"
    if rise > rise_tol and gap > gap_tol:
        return "overfitting"
    if rise > 0.01 or gap > gap_tol:
        return "beginning to overfit"
    return "good fit"
