"""Explicit weight penalties and parameter groups for weight decay.

Scaling used everywhere in the course: ``loss + lam * l2_penalty(model)`` with ``l2_penalty = 1/2 * sum(w**2)``,
so the penalty's gradient is ``lam * w`` -- exactly what ``torch.optim.SGD(weight_decay=lam)`` adds.
"""
from __future__ import annotations

import torch
from torch import nn

from .validate import check_number


def _penalised(model: nn.Module, weights_only: bool):
    # "weights" = tensors with >= 2 dims (Linear/Conv kernels, embeddings); biases and norm gains are 1-D.
    return [p for p in model.parameters() if p.requires_grad and (p.ndim >= 2 or not weights_only)]


def l1_penalty(model: nn.Module, *, weights_only: bool = True) -> torch.Tensor:
    """Sum of |w| over the model's weights (biases/norm parameters skipped unless ``weights_only=False``).

    Returns:
        A scalar tensor connected to the graph.
    """
    ps = _penalised(model, weights_only)
    return torch.stack([p.abs().sum() for p in ps]).sum() if ps else torch.zeros(())


def l2_penalty(model: nn.Module, *, weights_only: bool = True) -> torch.Tensor:
    """One half of the sum of w**2 over the model's weights (gradient: w).

    Returns:
        A scalar tensor connected to the graph.
    """
    ps = _penalised(model, weights_only)
    return 0.5 * torch.stack([p.pow(2).sum() for p in ps]).sum() if ps else torch.zeros(())


_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two named optimiser parameter groups: ``"decay"`` (weights, decayed by ``weight_decay``) and ``"no_decay"``
    (biases and norm parameters, at 0).

    ``fit(..., decay="weights")`` builds these groups; they also go straight to a ``torch.optim`` optimiser.
    """
    check_number("weight_decay", weight_decay)
    no_decay_ids = set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if isinstance(module, _NORMS) or name.endswith("bias") or p.ndim < 2:
                no_decay_ids.add(id(p))
    decay, no_decay, seen = [], [], set()
    for p in model.parameters():
        if id(p) in seen or not p.requires_grad:
            continue
        seen.add(id(p))
        (no_decay if id(p) in no_decay_ids else decay).append(p)
    return [{"name": "decay", "params": decay, "weight_decay": float(weight_decay)},
            {"name": "no_decay", "params": no_decay, "weight_decay": 0.0}]


# ---------------------------------------------------------------- elastic net and the proximal L1 step

def elastic_net_penalty(model: nn.Module, *, l1_ratio: float = 0.5, weights_only: bool = True) -> torch.Tensor:
    """Elastic net (Zou & Hastie, "Regularization and variable selection via the elastic net", JRSS-B 2005).

    ``l1_ratio * l1_penalty + (1 - l1_ratio) * l2_penalty`` (the L2 part keeps the course's 1/2 scaling,
    as scikit-learn's ``ElasticNet`` does); multiply by ``lam`` when adding it to the loss.

    Args:
        l1_ratio: in [0, 1]; 1 = pure L1, 0 = pure L2.

    Returns:
        A scalar tensor connected to the graph.
    """
    check_number("l1_ratio", l1_ratio, low=0.0, high=1.0)
    return l1_ratio * l1_penalty(model, weights_only=weights_only) + \
        (1 - l1_ratio) * l2_penalty(model, weights_only=weights_only)


def soft_threshold(w: torch.Tensor, threshold: float | torch.Tensor) -> torch.Tensor:
    """The proximal operator of ``threshold * |w|``: ``sign(w) * max(|w| - threshold, 0)``.

    Entries with ``|w| <= threshold`` become exactly 0 (same as ``torch.nn.functional.softshrink``).

    Args:
        w: any shape.  threshold: >= 0, or a tensor of thresholds broadcastable to ``w`` (e.g. (K, 1, 1): one per
            model of a stacked sweep).

    Returns:
        A new tensor shaped like ``w``.
    """
    if isinstance(threshold, torch.Tensor):
        if bool((threshold < 0).any()):
            raise ValueError(f"threshold has negative entries {threshold.flatten().tolist()}; thresholds must be >= 0")
    else:
        check_number("threshold", threshold)
    return torch.sign(w) * torch.clamp(w.abs() - threshold, min=0.0)


@torch.no_grad()
def prox_l1_(model: nn.Module, *, lr: float, l1: float, weights_only: bool = True) -> None:
    """Proximal-gradient L1 step, IN PLACE: after an optimiser step on the data loss, ``w <- soft_threshold(w, lr*l1)``.

    After a full-batch gradient step this is ISTA (proximal gradient descent on ``loss + l1 * sum|w|``); after a
    mini-batch SGD step without momentum it is proximal SGD. After a momentum or Adam step it is only a heuristic:
    the threshold ``lr * l1`` ignores the per-parameter step sizes Adam uses. Either way, weights whose magnitude
    falls below the threshold land on exactly 0 instead of oscillating around it as a subgradient step does.
    """
    check_number("lr", lr)
    check_number("l1", l1)
    for p in _penalised(model, weights_only):
        p.copy_(soft_threshold(p, lr * l1))
