"""Calibration tools: record predictions during ``fit``, post-hoc temperature scaling, penultimate-layer views.

Temperature scaling: Guo, Pleiss, Sun & Weinberger, "On Calibration of Modern Neural Networks" (ICML 2017).
Template projection: Mueller, Kornblith & Hinton, "When Does Label Smoothing Help?" (NeurIPS 2019).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .data import Dataset
from .device import resolve_device
from .history import History
from .layers import eval_mode
from .metrics import expected_calibration_error, negative_log_likelihood
from .train import fit


@torch.no_grad()
def predict_logits(model: nn.Module, X: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
    """Logits (N, K) of ``model`` on X in eval mode (its mode is restored), no gradients."""
    with eval_mode(model):
        return torch.cat([model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


class CalibrationRecorder:
    """A ``metrics`` hook for ``regviz.fit``: from the validation logits ``fit`` has just computed, logs plain
    (unsmoothed) NLL, ECE, mean top-1 confidence and mean logit norm, and keeps each epoch's logits.

    Args:
        n_bins: ECE bins.
        keep_logits: store each epoch's validation logits (on the CPU) in ``self.logits``.

    After ``fit``: ``hist.extra["val_nll" | "val_ece" | "val_conf" | "logit_norm"]`` are per-epoch lists and
    ``self.logits`` is a list of (N, K) tensors, one per epoch.
    """

    def __init__(self, *, n_bins: int = 15, keep_logits: bool = True):
        self.n_bins, self.keep_logits = n_bins, keep_logits
        self.logits: list[torch.Tensor] = []

    def __call__(self, model: nn.Module, data: Dataset, logits: dict[str, torch.Tensor]) -> dict[str, float]:
        val, y = logits["val"], data.y_val  # (N, K), (N,)
        probs = val.softmax(-1)
        if self.keep_logits:
            self.logits.append(val.detach().cpu())
        return {"val_nll": negative_log_likelihood(probs, y),
                "val_ece": expected_calibration_error(probs, y, self.n_bins),
                "val_conf": float(probs.max(-1).values.mean()),
                "logit_norm": float(val.norm(dim=-1).mean())}


def fit_recording(model: nn.Module, data: Dataset, *, eps: float = 0.0, device=None,
                  **fit_kwargs) -> tuple[History, list[torch.Tensor]]:
    """``regviz.fit`` with label smoothing ``eps`` (soft targets from a ``batch_transform`` also work) and a
    ``CalibrationRecorder`` on the validation set.

    Args:
        model, data, device, fit_kwargs: as in ``fit`` (``metrics`` is set here).
        eps: ``fit``'s ``label_smoothing`` (training only: train/val loss and ``hist.extra["val_nll"]`` are
            plain cross-entropy).

    Returns:
        ``(history, logits)``: ``logits[e]`` is the (N_val, K) validation logits after epoch ``e + 1`` (CPU).
    """
    dev = resolve_device(device)
    data = data.to(dev)
    rec = CalibrationRecorder()
    hist = fit(model, data, device=dev, label_smoothing=eps, metrics=[rec], **fit_kwargs)
    return hist, rec.logits


def fit_temperature(logits: torch.Tensor, y: torch.Tensor, *, max_iter: int = 100) -> float:
    """The temperature T > 0 minimising the NLL of ``softmax(logits / T)`` on (logits, y).

    Fit it on held-out data (not the training set: there the model is overconfident for a reason that does not
    transfer), then use ``softmax(logits / T)``. Dividing by T never changes the arg-max, so accuracy is unchanged.

    Args:
        logits: (N, K), detached.  y: (N,) labels.  max_iter: L-BFGS iterations.

    Returns:
        T as a float (optimised as log T, so it stays positive).
    """
    if logits.ndim != 2 or y.ndim != 1 or len(logits) != len(y):
        raise ValueError(f"logits must be (N, K) and y (N,); got {tuple(logits.shape)} and {tuple(y.shape)}")
    logits = logits.detach().float()
    log_t = torch.zeros(1, device=logits.device, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp())


def temperature_held_out(logits: torch.Tensor, y: torch.Tensor) -> dict:
    """Temperature scaling judged fairly: fit T on the first half of (logits, y), apply it to the second half.

    Args:
        logits: (N, K) validation logits.  y: (N,) labels.

    Returns:
        ``{"T": float, "before": (M, K), "after": (M, K), "y": (M,)}``: the held-out half's probabilities without
        and with T, and its labels (M = N - N // 2).
    """
    half = len(y) // 2
    T = fit_temperature(logits[:half], y[:half])
    held = logits[half:].detach().float()
    return {"T": T, "before": held.softmax(-1), "after": (held / T).softmax(-1), "y": y[half:]}


@torch.no_grad()
def penultimate_features(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """What enters the model's last ``nn.Linear`` (the classifier), in eval mode: (N, D).

    Works for ``regviz.MLP`` and ``regviz.CNN`` (a forward hook on the last Linear module catches its input).
    """
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer")
    caught = []
    handle = linears[-1].register_forward_hook(lambda mod, inp, out: caught.append(inp[0]))
    try:
        predict_logits(model, X)
    finally:
        handle.remove()
    return torch.cat(caught)


def last_linear_weight(model: nn.Module) -> torch.Tensor:
    """The (K, D) weight of the model's last ``nn.Linear``: row k is class k's template."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer")
    return linears[-1].weight.detach()


@torch.no_grad()
def template_projection(features: torch.Tensor, weight: torch.Tensor, classes: tuple[int, int, int]) -> torch.Tensor:
    """Mueller et al.'s 2-D view: project features onto the plane through three classes' templates.

    The templates are the rows of the last layer's ``weight`` (K, D) for ``classes``; the plane is spanned by
    (w_b - w_a, w_c - w_a), made orthonormal with a QR decomposition.

    Args:
        features: (N, D) penultimate activations.  weight: (K, D).  classes: three class indices.

    Returns:
        (N, 2) coordinates in that plane.
    """
    if len(set(classes)) != 3:
        raise ValueError(f"classes={classes!r}: give three different class indices")
    a, b, c = (weight[k].float() for k in classes)
    basis, _ = torch.linalg.qr(torch.stack([b - a, c - a], 1))  # (D, 2) orthonormal columns
    return (features.float() - a) @ basis


@torch.no_grad()
def cluster_spread(points: torch.Tensor, y: torch.Tensor) -> float:
    """Mean distance of points to their class centroid divided by the mean distance between centroids.

    Smaller means tighter, better separated clusters. points: (N, D), y: (N,) labels (at least 2 classes).
    """
    classes = y.unique()
    if len(classes) < 2:
        raise ValueError("cluster_spread needs points from at least two classes")
    cents = torch.stack([points[y == k].mean(0) for k in classes])  # (C, D)
    within = torch.cat([(points[y == k] - cents[i]).norm(dim=1) for i, k in enumerate(classes)]).mean()
    between = torch.pdist(cents).mean()
    return float(within / between)
