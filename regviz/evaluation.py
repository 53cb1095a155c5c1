"""Evaluation in eval mode without gradients: ``predict`` -> logits, ``loss_and_accuracy`` of stored logits,
``evaluate`` = both. A stacked model (``regviz.stacked``) gets one loss and one accuracy per model."""
from __future__ import annotations

import contextlib
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .layers import eval_mode
from .stacked import num_models

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def autocast(device: torch.device, dtype: torch.dtype | None):
    """``torch.autocast`` to ``dtype``, or no context at all (entering a disabled autocast costs per step)."""
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def shared_input(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """The model's input for a batch every model sees: X itself, or X expanded (no copy) to (K, B, ...)."""
    K = num_models(model)
    return X.expand(K, *X.shape) if K else X


@torch.no_grad()
def predict(model: nn.Module, X: torch.Tensor, *, batch_size: int = 8192,
            autocast_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Logits of ``model`` on X in eval mode (dropout off), without gradients, in float32; modes restored.

    Returns:
        (N, C), (N, T, V) for a language model, or (K, N, C) for a stacked model.
    """
    K = num_models(model)
    out = []
    with eval_mode(model):
        for i in range(0, len(X), batch_size):
            with autocast(X.device, autocast_dtype):
                out.append(model(shared_input(model, X[i:i + batch_size])).float())
    return torch.cat(out, dim=1 if K else 0)


def loss_and_accuracy(logits: torch.Tensor, y: torch.Tensor, *, loss_fn: LossFn | None = None,
                      batch_size: int = 8192, stacked: bool = False):
    """Mean loss and accuracy of stored ``logits`` against labels ``y`` (every position of a sequence counts).

    Sums are taken ``batch_size`` examples at a time in float64, so the result does not depend on N's size.

    Args:
        logits: (N, C), (N, T, V), or (K, N, C) with ``stacked=True``.  y: (N,) or (N, T) labels.

    Returns:
        ``(loss, accuracy)`` floats, or two lists of K floats when ``stacked``.
    """
    K = logits.shape[0] if stacked else None
    loss = torch.zeros(K or 1, dtype=torch.float64, device=logits.device)
    correct = torch.zeros(K or 1, dtype=torch.float64, device=logits.device)
    for i in range(0, len(y), batch_size):
        yb = y[i:i + batch_size]  # (B,) or (B, T)
        lb = logits[:, i:i + batch_size] if K else logits[i:i + batch_size]
        if K:
            yb = yb.expand(K, *yb.shape)
        flat = lb.reshape(K or 1, -1, lb.shape[-1])  # (K or 1, predictions, C)
        target = yb.reshape(K or 1, -1)
        if loss_fn is None:
            loss += F.cross_entropy(flat.flatten(0, 1), target.flatten(), reduction="none").view(K or 1, -1).sum(1)
        else:
            loss += torch.stack([loss_fn(f, t) for f, t in zip(flat, target)]).double() * target.shape[1]
        correct += (flat.argmax(-1) == target).sum(1)
    n = y.numel()
    out = (loss / n).tolist(), (correct / n).tolist()
    return out if K else (out[0][0], out[1][0])


def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, loss_fn: LossFn | None = None,
             batch_size: int = 8192, autocast_dtype: torch.dtype | None = None):
    """Mean loss and accuracy of ``model`` on (X, y), in eval mode (dropout off), without gradients.

    Args:
        X: (N, *input_shape).  y: (N,) class labels, or (N, T) next-token ids for a language model whose
            logits are (N, T, V): every position counts as one prediction.
        loss_fn: default: plain cross-entropy (summed over predictions, divided once at the end).

    Returns:
        ``(loss, accuracy)`` as floats (lists of K floats for a stacked model); the model's modes are restored.
    """
    logits = predict(model, X, batch_size=batch_size, autocast_dtype=autocast_dtype)
    return loss_and_accuracy(logits, y, loss_fn=loss_fn, batch_size=batch_size, stacked=bool(num_models(model)))
