"""Checks before training: ``check_model_fits_data`` (one forward pass, a ValueError naming both sides and the
fix) and ``check_fit_args`` (fit's knobs, each a ValueError saying what was given and what is allowed)."""
from __future__ import annotations

import torch
from torch import nn

from .data import Dataset
from .evaluation import shared_input
from .layers import eval_mode
from .optim import DECAY, OPTIMIZERS
from .stacked import num_models
from .validate import check_choice, check_int, check_number


def check_fit_args(*, epochs, batch_size, lrs, weight_decays, l1s, label_smoothings, seeds, z_loss, optimizer,
                   decay, scheduler_interval, grad_clip, n_eval_train, n_eval_val) -> None:
    """Raise a ValueError for the first bad knob of ``fit`` (per-model knobs come as lists)."""
    check_int("epochs", epochs)
    check_int("batch_size", batch_size)
    for name, values in (("lr", lrs), ("weight_decay", weight_decays), ("l1", l1s)):
        for v in values:
            check_number(name, v)
    for v in label_smoothings:
        check_number("label_smoothing", v, high=1.0, high_inclusive=False)
    for v in seeds:
        check_int("seed", v, low=0)
    check_number("z_loss", z_loss)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_choice("decay", decay, DECAY)
    check_choice("scheduler_interval", scheduler_interval, ("epoch", "step"))
    if grad_clip is not None:
        check_number("grad_clip", grad_clip)
    for name, v in (("n_eval_train", n_eval_train), ("n_eval_val", n_eval_val)):
        if v is not None:
            check_int(name, v)


def _fix_hint(model: nn.Module) -> str:
    """How to build ``model``'s class sized for a ``Dataset`` called ``data``."""
    name = type(model).__name__
    if hasattr(model, "input_shape"):  # regviz.CNN and friends
        return f"build `{name}(input_shape=data.input_shape, num_classes=data.num_classes)`"
    if name in ("MLP", "ResidualMLP") or hasattr(model, "in_features"):
        return f"build `{name}(in_features=data.in_features, num_classes=data.num_classes)`"
    return "size the model's first layer from data.in_features (flat) or data.input_shape, " \
           "and its last layer from data.num_classes"


def _input_mismatch(model: nn.Module, data: Dataset) -> str | None:
    """What the model expects of one input, when that visibly differs from ``data``; else None."""
    name = type(model).__name__
    shape = getattr(model, "input_shape", None)
    if shape is not None and tuple(shape) != tuple(data.input_shape):
        return f"{name} expects inputs of shape {tuple(shape)} but the dataset's are {tuple(data.input_shape)}"
    first = next((m for m in model.modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))), None)
    if isinstance(first, nn.Linear) and first.in_features != data.in_features:
        return f"{name} expects {first.in_features} input features but the dataset has {data.in_features}"
    if isinstance(first, nn.modules.conv._ConvNd):
        channels = data.input_shape[0] if len(data.input_shape) > 1 else 1
        if first.in_channels != channels:
            return (f"{name} expects {first.in_channels} input channels but the dataset's inputs "
                    f"{tuple(data.input_shape)} have {channels}")
    return None


@torch.no_grad()
def check_model_fits_data(model: nn.Module, data: Dataset) -> None:
    """Raise a ``ValueError`` naming both sides (and the fix) if ``model`` cannot train on ``data``.

    One forward pass on two training examples in eval mode, without gradients (no optimiser step, no
    random draws); the model's modes are restored. Model and data must be on the same device.

    Args:
        model: a classifier taking (B, *data.input_shape) and returning (B, data.num_classes) logits, a
            language model returning (B, T, V) for (B, T) ids, or a stacked model returning (K, B, C).
        data: a ``Dataset``.
    """
    name = type(model).__name__
    X = data.X_train[:2]  # (2, *input_shape)
    try:
        with eval_mode(model):
            logits = model(shared_input(model, X))
    except RuntimeError as exc:  # torch's "mat1 and mat2 shapes cannot be multiplied ..."
        what = _input_mismatch(model, data) or (
            f"{name} cannot take the dataset's inputs, a batch of shape {tuple(X.shape)} "
            f"(torch says: {str(exc).splitlines()[0]})")
        raise ValueError(f"{what}: {_fix_hint(model)}") from exc
    K = num_models(model)
    lead = ((K,) if K else ()) + tuple(data.y_train[:2].shape)
    if not (isinstance(logits, torch.Tensor) and tuple(logits.shape[:-1]) == lead):
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"{name} returns {got} for a batch of {len(X)} examples, but training needs "
                         f"{lead + (data.num_classes,)} logits (batch, ..., num_classes): {_fix_hint(model)}")
    if logits.shape[-1] != data.num_classes:
        raise ValueError(f"{name} outputs {logits.shape[-1]} classes but the dataset has {data.num_classes} "
                         f"(labels 0-{data.num_classes - 1}): {_fix_hint(model)}")
