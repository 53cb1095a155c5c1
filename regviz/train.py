"""The reference training loop: ``fit`` -> ``History``; ``evaluate`` -> (loss, accuracy).

Data stay as tensors on the device; each epoch slices a shuffled index into mini-batches
(no per-sample DataLoader), so the loop's cost is the model's own work.
"""
from __future__ import annotations

import math
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .data import Dataset
from .device import resolve_device
from .history import History
from .stopping import EarlyStopping

OPTIMIZERS = ("adamw", "adam", "sgd")
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_optimizer(name: str, params, *, lr: float, weight_decay: float = 0.0,
                   momentum: float = 0.9) -> torch.optim.Optimizer:
    """``"adamw"`` (decoupled decay), ``"adam"`` (L2 added to the gradient) or ``"sgd"`` (with momentum).

    The fused implementations are used where PyTorch has them for the parameters' device (same maths,
    one kernel per step: about 1.5x faster for the course's small models on a CPU).
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}")
    params = list(params)
    tensors = [t for group in params for t in (group["params"] if isinstance(group, dict) else [group])]
    fused = bool(tensors) and all(t.dtype in (torch.float32, torch.float64) and t.device.type in ("cpu", "cuda")
                                  for t in tensors)
    kw = {"fused": True} if fused else {}
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **kw)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **kw)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, **kw)


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, loss_fn: LossFn | None = None,
             batch_size: int = 8192) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on (X, y), in eval mode (dropout off), without gradients.

    Args:
        X: (N, *input_shape).  y: (N,) class labels.

    Returns:
        ``(loss, accuracy)`` as floats; the model's train/eval mode is restored afterwards.
    """
    loss_fn = loss_fn or F.cross_entropy
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for i in range(0, len(y), batch_size):
        logits = model(X[i:i + batch_size])  # (B, K)
        yb = y[i:i + batch_size]
        total_loss += float(loss_fn(logits, yb)) * len(yb)
        correct += int((logits.argmax(1) == yb).sum())
    model.train(was_training)
    return total_loss / len(y), correct / len(y)


def _check_args(epochs, lr, weight_decay, batch_size, optimizer) -> None:
    if not (isinstance(epochs, int) and not isinstance(epochs, bool) and epochs >= 1):
        raise ValueError(f"epochs={epochs!r} must be an int >= 1")
    if not (isinstance(lr, (int, float)) and lr >= 0):
        raise ValueError(f"lr={lr!r} must be a number >= 0")
    if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
        raise ValueError(f"weight_decay={weight_decay!r} must be a number >= 0")
    if not (isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 1):
        raise ValueError(f"batch_size={batch_size!r} must be an int >= 1")
    if isinstance(optimizer, str) and optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; allowed: {', '.join(OPTIMIZERS)}")


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
    random draws); the model's train/eval mode is restored. Model and data must be on the same device.

    Args:
        model: any classifier taking (B, *data.input_shape) and returning (B, data.num_classes) logits.
        data: a ``Dataset``.
    """
    name = type(model).__name__
    was_training = model.training
    model.eval()
    X = data.X_train[:2]  # (2, *input_shape)
    try:
        logits = model(X)
    except RuntimeError as exc:  # torch's "mat1 and mat2 shapes cannot be multiplied ..."
        what = _input_mismatch(model, data) or (
            f"{name} cannot take the dataset's inputs, a batch of shape {tuple(X.shape)} "
            f"(torch says: {str(exc).splitlines()[0]})")
        raise ValueError(f"{what}: {_fix_hint(model)}") from exc
    finally:
        model.train(was_training)
    if not (isinstance(logits, torch.Tensor) and logits.ndim == 2 and logits.shape[0] == len(X)):
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"{name} returns {got} for a batch of {len(X)} examples, but training needs "
                         f"(batch, num_classes) = ({len(X)}, {data.num_classes}) logits: {_fix_hint(model)}")
    if logits.shape[1] != data.num_classes:
        raise ValueError(f"{name} outputs {logits.shape[1]} classes but the dataset has {data.num_classes} "
                         f"(labels 0-{data.num_classes - 1}): {_fix_hint(model)}")


def fit(
    model: nn.Module,
    data: Dataset,
    *,
    epochs: int = 100,
    lr: float = 1e-3,
    optimizer: str | Callable[..., torch.optim.Optimizer] = "adamw",
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    batch_size: int = 64,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    loss_fn: LossFn | None = None,
    penalty: Callable[[nn.Module], torch.Tensor] | None = None,
    params=None,
    batch_transform: Callable | None = None,
    scheduler: Callable[[torch.optim.Optimizer], object] | None = None,
    scheduler_interval: str = "epoch",
    early_stopping: EarlyStopping | None = None,
    on_epoch_end: Callable[[int, nn.Module, History], None] | None = None,
) -> History:
    """Train ``model`` on ``data`` and return its per-epoch ``History``.

    Args:
        model: trained in place (and moved to ``device``).
        data: a ``Dataset``; moved to ``device`` if it lives elsewhere.
        epochs: maximum number of passes over the training set.
        lr, weight_decay, momentum: optimiser settings (``momentum`` only for SGD).
        optimizer: ``"adamw"``, ``"adam"``, ``"sgd"``, or a callable ``(params, lr=, weight_decay=)``.
        batch_size: mini-batch size.
        seed: seeds the shuffling and torch's global RNG (dropout masks); same seed, same run on the CPU.
        device: None = ``default_device()``.
        progress: show a tqdm progress bar over epochs.
        loss_fn: ``(logits (B, K), targets) -> loss``; targets are labels (B,) or soft targets (B, K).
            Default: ``F.cross_entropy`` (training and evaluation).
        penalty: ``model -> scalar`` added to every mini-batch loss (e.g. an L1 penalty).
        params: parameters or parameter groups for the optimiser (default: ``model.parameters()``).
        batch_transform: ``(X, y, generator) -> (X, targets)`` applied to each training batch
            (augmentation, mixup); its targets go to ``loss_fn``.
        scheduler: ``optimizer -> LR scheduler``; stepped each epoch (or each step if
            ``scheduler_interval="step"``); ``ReduceLROnPlateau`` is stepped with the validation loss.
        early_stopping: an ``EarlyStopping``; with ``restore_best`` the best epoch's weights are reloaded.
        on_epoch_end: ``(epoch, model, history)`` called after each epoch's evaluation (e.g. to log extras).

    Returns:
        A ``History``.
    """
    _check_args(epochs, lr, weight_decay, batch_size, optimizer)
    if scheduler_interval not in ("epoch", "step"):
        raise ValueError(f"scheduler_interval={scheduler_interval!r}; allowed: 'epoch', 'step'")
    dev = resolve_device(device)
    model.to(dev)
    if data.device != dev:
        data = data.to(dev)
    check_model_fits_data(model, data)  # a clear ValueError before the first step, not torch's shape error
    torch.manual_seed(seed)  # dropout masks and anything else drawn from the global generator
    g = torch.Generator().manual_seed(seed)  # shuffling
    eval_loss = loss_fn if loss_fn is not None else F.cross_entropy
    train_loss_fn = loss_fn or F.cross_entropy
    params = model.parameters() if params is None else params
    opt = (make_optimizer(optimizer, params, lr=lr, weight_decay=weight_decay, momentum=momentum)
           if isinstance(optimizer, str) else optimizer(params, lr=lr, weight_decay=weight_decay))
    sched = scheduler(opt) if scheduler is not None else None
    plateau = isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if early_stopping is not None:
        early_stopping.reset()

    hist = History(config=dict(
        model=type(model).__name__, dataset=data.name, n_train=len(data.y_train), epochs=epochs, lr=lr,
        optimizer=optimizer if isinstance(optimizer, str) else getattr(optimizer, "__name__", "custom"),
        weight_decay=weight_decay, batch_size=batch_size, seed=seed, device=str(dev)))
    X, y, n = data.X_train, data.y_train, len(data.y_train)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs, desc="fit", unit="epoch", leave=False)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        # 1. one pass over shuffled mini-batches, in training mode
        model.train()
        hist.lr.append(opt.param_groups[0]["lr"])
        perm = torch.randperm(n, generator=g).to(dev)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            Xb, tb = X[idx], y[idx]
            if batch_transform is not None:
                Xb, tb = batch_transform(Xb, tb, g)
            loss = train_loss_fn(model(Xb), tb)
            if penalty is not None:
                loss = loss + penalty(model)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None and scheduler_interval == "step" and not plateau:
                sched.step()
        # 2. measure train and validation in eval mode (dropout off)
        tl, ta = evaluate(model, X, y, loss_fn=eval_loss)
        vl, va = evaluate(model, data.X_val, data.y_val, loss_fn=eval_loss)
        hist.train_loss.append(tl); hist.train_acc.append(ta)
        hist.val_loss.append(vl); hist.val_acc.append(va)
        if on_epoch_end is not None:
            on_epoch_end(epoch, model, hist)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(train_loss=f"{tl:.3f}", val_loss=f"{vl:.3f}", refresh=False)
        # 3. schedule, then decide whether to stop
        if sched is not None and (plateau or scheduler_interval == "epoch"):
            sched.step(vl) if plateau else sched.step()
        if not (math.isfinite(tl) and math.isfinite(vl)):
            hist.stop_reason = f"diverged: loss became {tl if not math.isfinite(tl) else vl} at epoch {epoch}"
            break
        if early_stopping is not None:
            stop, why = early_stopping.step(epoch, vl, model)
            if stop:
                hist.stop_reason = why
                break
    if early_stopping is not None and early_stopping.restore_best and early_stopping.best_state is not None:
        model.load_state_dict(early_stopping.best_state)
    if bar is not None:
        bar.close()
    hist.seconds = time.perf_counter() - start
    hist.update_best()
    return hist
