"""Explicit weight penalties and parameter groups for weight decay.

Scaling used everywhere in the course: ``loss + lam * l2_penalty(model)`` with ``l2_penalty = 1/2 * sum(w**2)``,
so the penalty's gradient is ``lam * w`` -- exactly what ``torch.optim.SGD(weight_decay=lam)`` adds.
"""
from __future__ import annotations

import torch
from torch import nn


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
    """Two optimiser parameter groups: weights decayed by ``weight_decay``; biases and norm parameters at 0.

    Pass the result as ``params=`` to ``fit`` or straight to a ``torch.optim`` optimiser.
    """
    if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
        raise ValueError(f"weight_decay={weight_decay!r} must be a number >= 0")
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
    return [{"params": decay, "weight_decay": float(weight_decay)}, {"params": no_decay, "weight_decay": 0.0}]
