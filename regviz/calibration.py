"""Calibration tools: post-hoc temperature scaling and penultimate-layer views of a trained model.

Nothing here trains: these are functions of logits, labels and a trained model. Recording calibration during
training (``CalibrationRecorder``, ``fit_recording``) is ``regviz.experiments.recording``.

Temperature scaling: Guo, Pleiss, Sun & Weinberger, "On Calibration of Modern Neural Networks" (ICML 2017).
Template projection: Mueller, Kornblith & Hinton, "When Does Label Smoothing Help?" (NeurIPS 2019).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import eval_mode


def __getattr__(name: str):
    """``from regviz.calibration import fit_recording`` (chapters 04 and 05 do) still works: it is loaded only
    when asked for, so importing this module never imports the training loop (and nothing imports back)."""
    if name == "fit_recording":
        from .experiments.recording import fit_recording
        return fit_recording
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@torch.no_grad()
def predict_logits(model: nn.Module, X: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
    """Logits (N, K) of ``model`` on X in eval mode (its mode is restored), no gradients."""
    with eval_mode(model):
        return torch.cat([model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


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
