"""Metrics: accuracy, the generalisation gap, and a learning-curve diagnosis."""
from __future__ import annotations

import torch

from .history import History
from .validate import check_choice, check_int, check_number


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
    check_choice("metric", metric, ("loss", "acc"))
    series = hist.loss_gap if metric == "loss" else hist.acc_gap
    if not series:
        raise ValueError("the history has no epochs")
    if epoch is None:
        return series[-1]
    if not 1 <= check_int("epoch", epoch) <= len(series):
        raise ValueError(f"epoch={epoch!r}: the history has epochs 1..{len(series)}")
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


def sparsity(model: torch.nn.Module, *, threshold: float = 0.0, weights_only: bool = True) -> float:
    """Fraction of the model's weights with ``|w| <= threshold`` (``threshold=0``: exact zeros).

    Args:
        weights_only: count only tensors with ``ndim >= 2`` (weights, not biases or norm gains).
    """
    check_number("threshold", threshold)
    ps = [p.detach() for p in model.parameters() if p.ndim >= 2 or not weights_only]
    total = sum(p.numel() for p in ps)
    if total == 0:
        raise ValueError("the model has no parameters to measure")
    return sum(int((p.abs() <= threshold).sum()) for p in ps) / total


# ---------------------------------------------------------------- calibration (chapter 04)
# ECE: Naeini, Cooper & Hauskrecht, "Obtaining well calibrated probabilities using Bayesian binning"
# (AAAI 2015); Guo, Pleiss, Sun & Weinberger, "On calibration of modern neural networks" (ICML 2017).

def _check_probs(probs: torch.Tensor, y: torch.Tensor, n_bins: int) -> None:
    if probs.ndim != 2 or y.ndim != 1 or len(probs) != len(y) or len(y) == 0:
        raise ValueError(f"probs must be (N, K) and y (N,) with N >= 1; got {tuple(probs.shape)} and {tuple(y.shape)}")
    check_int("n_bins", n_bins)


@torch.no_grad()
def reliability_data(probs: torch.Tensor, y: torch.Tensor, n_bins: int = 15) -> dict[str, list[float]]:
    """Per-bin statistics of top-1 confidence: the numbers behind a reliability diagram.

    Bins are equal-width on [0, 1]; bin m holds confidences in ((m-1)/M, m/M] (Guo et al. 2017).

    Args:
        probs: (N, K) predicted probabilities (softmax outputs).  y: (N,) labels.
        n_bins: M.

    Returns:
        ``{"edges": M+1 floats, "confidence": M, "accuracy": M, "count": M}``; an empty bin has
        confidence and accuracy ``nan`` and count 0.
    """
    _check_probs(probs, y, n_bins)
    conf, pred = probs.float().max(1)  # (N,), (N,)
    correct = (pred == y).float()
    edges = torch.linspace(0, 1, n_bins + 1, device=conf.device)
    idx = torch.bucketize(conf, edges[1:-1], right=False)  # conf in (e[m-1], e[m]] -> m (0-based)
    count = torch.bincount(idx, minlength=n_bins).float()
    conf_sum = torch.bincount(idx, weights=conf, minlength=n_bins)
    acc_sum = torch.bincount(idx, weights=correct, minlength=n_bins)
    nan = torch.full_like(count, float("nan"))
    return {"edges": edges.tolist(),
            "confidence": torch.where(count > 0, conf_sum / count.clamp(min=1), nan).tolist(),
            "accuracy": torch.where(count > 0, acc_sum / count.clamp(min=1), nan).tolist(),
            "count": count.tolist()}


@torch.no_grad()
def expected_calibration_error(probs: torch.Tensor, y: torch.Tensor, n_bins: int = 15) -> float:
    """ECE = sum_m (|B_m| / N) * |accuracy(B_m) - confidence(B_m)| over equal-width top-1 confidence bins.

    Args:
        probs: (N, K) predicted probabilities.  y: (N,) labels.  n_bins: number of bins (15 as in Guo et al.).

    Returns:
        A float in [0, 1]; 0 means every bin's accuracy equals its mean confidence.
    """
    d = reliability_data(probs, y, n_bins)
    n = len(y)
    return float(sum(c / n * abs(a - p) for c, a, p in zip(d["count"], d["accuracy"], d["confidence"]) if c > 0))


@torch.no_grad()
def negative_log_likelihood(probs: torch.Tensor, y: torch.Tensor) -> float:
    """Mean ``-log p[y]`` (plain cross-entropy of the predicted probabilities, no smoothing). probs: (N, K), y: (N,)."""
    return float(-probs.float().clamp_min(1e-12).log().gather(1, y.unsqueeze(1)).mean())
