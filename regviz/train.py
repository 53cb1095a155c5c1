"""THE training loop: ``fit`` -> ``History``; ``evaluate`` -> (loss, accuracy).

Data stay as tensors on the device; each epoch slices a shuffled index into mini-batches (no per-sample
DataLoader), so the loop's cost is the model's own work. ``fit`` also trains a stacked model (K models in one,
see ``regviz.sweep``): then every per-model knob may be a list of K values and it returns K Histories.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .data import Dataset
from .device import resolve_device, seeded
from .history import History
from .layers import Dropout, eval_mode
from .losses import z_loss as z_loss_term
from .penalties import decay_groups, l1_penalty, prox_l1_
from .stopping import EarlyStopping
from .validate import check_choice, check_int, check_number

OPTIMIZERS = ("adamw", "adam", "sgd")
DECAY = ("all", "weights")
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Metric = Callable[[nn.Module, Dataset, Mapping[str, torch.Tensor]], Mapping[str, float]]


def make_optimizer(name: str, params, *, lr: float, weight_decay: float = 0.0, momentum: float = 0.9,
                   betas: tuple[float, float] = (0.9, 0.999), fused: bool | None = None) -> torch.optim.Optimizer:
    """``"adamw"`` (decoupled decay), ``"adam"`` (L2 added to the gradient) or ``"sgd"`` (with momentum).

    Args:
        params: parameters or parameter groups (groups may carry their own ``weight_decay``).
        fused: None = the fused implementation where PyTorch has one for the parameters' device (same maths,
            one kernel per step: about 1.5x faster for the course's small models on a CPU); False = the
            plain per-tensor loop (its float rounding differs in the last bits).
    """
    check_choice("optimizer", name, OPTIMIZERS)
    params = list(params)
    tensors = [t for group in params for t in (group["params"] if isinstance(group, dict) else [group])]
    if fused is None:
        fused = bool(tensors) and all(t.dtype in (torch.float32, torch.float64) and t.device.type in ("cpu", "cuda")
                                      for t in tensors)
    kw = {"fused": True} if fused else {}
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas, **kw)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, betas=betas, **kw)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, **kw)


def _stacked(model: nn.Module) -> int | None:
    """K for a stacked model (``regviz.sweep.StackedMLP``), None for an ordinary one."""
    return getattr(model, "num_models", None)


def _autocast(device: torch.device, dtype: torch.dtype | None):
    """``torch.autocast`` to ``dtype``, or no context at all (entering a disabled autocast costs per step)."""
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def _shared(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """The model's input for a batch every model sees: X itself, or X expanded (no copy) to (K, B, ...)."""
    K = _stacked(model)
    return X.expand(K, *X.shape) if K else X


@torch.no_grad()
def predict(model: nn.Module, X: torch.Tensor, *, batch_size: int = 8192,
            autocast_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Logits of ``model`` on X in eval mode (dropout off), without gradients, in float32; modes restored.

    Returns:
        (N, C), (N, T, V) for a language model, or (K, N, C) for a stacked model.
    """
    K = _stacked(model)
    out = []
    with eval_mode(model):
        for i in range(0, len(X), batch_size):
            with _autocast(X.device, autocast_dtype):
                out.append(model(_shared(model, X[i:i + batch_size])).float())
    return torch.cat(out, dim=1 if K else 0)


def loss_and_accuracy(logits: torch.Tensor, y: torch.Tensor, *, loss_fn: LossFn | None = None,
                      batch_size: int = 8192, stacked: bool = False):
    """Mean loss and accuracy of stored ``logits`` against labels ``y`` (every position of a sequence counts).

    Sums are taken ``batch_size`` examples at a time in float64, so the result does not depend on N's size.
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
    return loss_and_accuracy(logits, y, loss_fn=loss_fn, batch_size=batch_size, stacked=bool(_stacked(model)))


def _train_loss(logits: torch.Tensor, targets: torch.Tensor, eps, K: int | None) -> torch.Tensor:
    """Cross-entropy of the training step, with label smoothing ``eps``: the one ``F.cross_entropy`` for everything.

    logits (B, C), (B, T, V), or stacked (K, B, C); targets: labels of the leading shape or soft targets shaped
    like the logits. A stacked model gets one loss per model (K,), with its own eps (a (K, 1, 1) tensor, or None for
    no smoothing), via smoothed soft targets.
    """
    if not K:
        soft = targets.shape == logits.shape
        return F.cross_entropy(logits.flatten(0, -2), targets.flatten(0, -2) if soft else targets.flatten(),
                               label_smoothing=eps)
    C = logits.shape[-1]
    if eps is not None:  # (K, 1, 1), built once per fit
        targets = (1 - eps) * F.one_hot(targets, C).to(logits.dtype) + eps / C  # (K, B, C), as label_smoothing does
        per = F.cross_entropy(logits.flatten(0, 1), targets.flatten(0, 1), reduction="none")
    else:
        per = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
    return per.view(K, -1).mean(1)  # (K,)


def dropout_rates(model: nn.Module) -> list[float]:
    """The distinct dropout probabilities of ``model``'s dropout layers, in order of appearance."""
    ps = []
    for m in model.modules():
        p = m.p if isinstance(m, (Dropout, nn.modules.dropout._DropoutNd)) else None
        if p is not None and float(p) not in ps:
            ps.append(float(p))
    return ps


def _describe(obj) -> object:
    """A JSON-friendly record of a scheduler, transform or loss: its ``config`` if it has one, else its name
    and simple settings."""
    if obj is None:
        return None
    if isinstance(getattr(obj, "config", None), dict):
        return dict(obj.config)
    out = {"name": getattr(obj, "__name__", type(obj).__name__)}
    if isinstance(obj, torch.optim.lr_scheduler.LRScheduler) or hasattr(obj, "state_dict"):
        try:
            state = obj.state_dict()
        except Exception:  # noqa: BLE001 -- a description, never a reason to fail
            state = {}
        out.update({k: v for k, v in state.items() if not k.startswith("_") and isinstance(v, (int, float, str))
                    and k not in ("last_epoch", "verbose")})
        lambdas = getattr(obj, "lr_lambdas", None)
        if lambdas:
            names = [str(getattr(f, "description", getattr(f, "__name__", f))) for f in lambdas]
            out["lr_lambda"] = sorted(set(names), key=names.index)  # one per parameter group, usually all alike
    return out


PER_MODEL = ("lr", "weight_decay", "l1", "label_smoothing", "seed", "p")  # knobs a stacked model sets per model


def _config(model, data, dev, knobs: dict, k: int | None) -> dict:
    """History.config: every value that shaped run ``k`` of a stacked model (None: the only run)."""
    def pick(name, v):
        return v[k] if k is not None and name in PER_MODEL and isinstance(v, (list, tuple)) else v

    hp = getattr(model, "hparams", {})
    cfg = dict(model=hp.get("model", type(model).__name__), **{n: pick(n, v) for n, v in hp.items() if n != "model"})
    if "p" not in cfg:
        ps = dropout_rates(model)
        cfg["p"] = ps[0] if len(ps) == 1 else ps
    cfg.update({"dataset": data.name, **getattr(data, "config", {}), "n_train": len(data.y_train)})
    cfg.update({n: pick(n, v) for n, v in knobs.items()})
    cfg["device"] = str(dev)
    return cfg


def fit(
    model: nn.Module,
    data: Dataset,
    *,
    epochs: int = 100,
    lr: float | Sequence[float] = 1e-3,
    optimizer: str = "adamw",
    weight_decay: float | Sequence[float] = 0.0,
    decay: str = "all",
    l1: float | Sequence[float] = 0.0,
    l1_proximal: bool = False,
    label_smoothing: float | Sequence[float] = 0.0,
    z_loss: float = 0.0,
    momentum: float = 0.9,
    betas: tuple[float, float] = (0.9, 0.999),
    fused: bool | None = None,
    batch_size: int = 64,
    seed: int | Sequence[int] = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    loss_fn: LossFn | None = None,
    batch_transform: Callable | None = None,
    scheduler: Callable[[torch.optim.Optimizer], object] | None = None,
    scheduler_interval: str = "epoch",
    grad_clip: float | None = None,
    early_stopping: EarlyStopping | None = None,
    metrics: Sequence[Metric] = (),
    on_epoch_end: Callable[[int, nn.Module, History], None] | None = None,
    n_eval_train: int | None = None,
    n_eval_val: int | None = None,
    eval_batch_size: int = 8192,
    autocast_dtype: torch.dtype | None = None,
):
    """Train ``model`` on ``data`` and return its per-epoch ``History`` (every knob lands in ``History.config``).

    The step loss is ``cross_entropy(logits, targets, label_smoothing) + z_loss * z_loss(logits)
    + l1 * sum|w|`` (the L1 term only when ``l1_proximal`` is False).

    Args:
        model: trained in place (and moved to ``device``). Logits may be (B, C) or, for a language model,
            (B, T, V) with (B, T) targets. A stacked model (``regviz.sweep.StackedMLP``) trains K models at
            once; then ``lr``, ``weight_decay``, ``l1``, ``label_smoothing`` and ``seed`` may be lists of K.
        data: a ``Dataset``; moved to ``device`` if it lives elsewhere.
        epochs: maximum number of passes over the training set.
        lr, momentum, betas: optimiser settings (``momentum`` for SGD, ``betas`` for Adam/AdamW).
        optimizer: ``"adamw"`` (decoupled decay), ``"adam"`` (decay added to the gradient), ``"sgd"``.
        weight_decay: lambda, handed to the optimiser. decay: ``"all"`` parameters, or only ``"weights"``
            (biases and normalisation parameters are not decayed; ``regviz.penalties.decay_groups``).
        l1: strength of the L1 penalty on weights (biases skipped). l1_proximal: instead of adding the
            penalty to the loss (subgradient), soft-threshold the weights by ``lr * l1`` after each step (proximal SGD; ISTA only for full-batch
            gradient steps, a heuristic after momentum or Adam steps: ``regviz.penalties.prox_l1_``).
        label_smoothing: eps of ``F.cross_entropy``; training only (evaluation reports plain cross-entropy).
        z_loss: coefficient of ``regviz.losses.z_loss`` (PaLM used 1e-4); training only.
        fused: see ``make_optimizer``.
        batch_size: mini-batch size.
        seed: seeds the shuffling and, privately, torch's generator for dropout masks (the caller's global
            generator is restored afterwards); same seed, same run on the CPU.
        device: None = ``default_device()``.
        progress: show a tqdm progress bar over epochs.
        loss_fn: replaces the cross-entropy above for training AND evaluation: ``(logits (N, C), targets)
            -> scalar``; its ``__name__`` is recorded.
        batch_transform: ``(X, y, generator) -> (X, targets)`` for each training batch (augmentation, mixup);
            its ``config`` dict (if any) is recorded.
        scheduler: ``optimizer -> LR scheduler``; stepped each epoch (or each step with
            ``scheduler_interval="step"``); ``ReduceLROnPlateau`` is stepped with the validation loss.
        grad_clip: max global gradient norm (None = no clipping).
        early_stopping: an ``EarlyStopping``; with ``restore_best`` the best epoch's weights are reloaded.
        metrics: callables ``(model, eval_data, logits) -> {name: float}`` run in eval mode after each epoch; the
            values go to ``History.extra[name]``. ``eval_data`` holds the evaluation subsets below and
            ``logits = {"train": ..., "val": ...}`` the model's logits on them (already computed: no second pass).
        on_epoch_end: ``(epoch, model, history)`` called after each epoch's evaluation.
        n_eval_train, n_eval_val: examples used to measure the train / validation loss each epoch (None = all).
        eval_batch_size: examples per evaluation forward pass.
        autocast_dtype: e.g. ``torch.bfloat16``: forward passes under ``torch.autocast`` (loss in float32).

    Returns:
        A ``History`` (a list of K Histories for a stacked model).
    """
    K = _stacked(model)
    per = lambda name, v: _per_model(name, v, K)  # noqa: E731
    lrs, wds, l1s, epss, seeds = (per("lr", lr), per("weight_decay", weight_decay), per("l1", l1),
                                  per("label_smoothing", label_smoothing), per("seed", seed))
    check_int("epochs", epochs)
    check_int("batch_size", batch_size)
    for v in lrs:
        check_number("lr", v)
    for v in wds:
        check_number("weight_decay", v)
    for v in l1s:
        check_number("l1", v)
    for v in epss:
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
    if K and any(x is not None and x != () for x in (loss_fn, batch_transform, scheduler, grad_clip, early_stopping,
                                                      on_epoch_end, autocast_dtype)) | bool(metrics) | bool(z_loss):
        raise ValueError("a stacked model trains with the built-in loss and none of loss_fn, batch_transform, "
                         "scheduler, grad_clip, early_stopping, metrics, on_epoch_end, autocast_dtype or z_loss; "
                         "train such runs one at a time with fit")
    dev = resolve_device(device)
    model.to(dev)
    if data.device != dev:
        data = data.to(dev)
    check_model_fits_data(model, data)  # a clear ValueError before the first step, not torch's shape error

    # 1. optimiser (weight decay on every parameter, or on weights only), schedule, stopping rule
    if K:
        opt = model.make_optimizer(optimizer, lr=lrs, weight_decay=wds, decay=decay, momentum=momentum, betas=betas)
    else:
        params = decay_groups(model, wds[0]) if decay == "weights" else model.parameters()
        opt = make_optimizer(optimizer, params, lr=lrs[0], weight_decay=wds[0], momentum=momentum, betas=betas,
                             fused=fused)
    sched = scheduler(opt) if scheduler is not None else None
    plateau = isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if early_stopping is not None:
        early_stopping.reset()
    knobs = dict(epochs=epochs, lr=lrs if K else lrs[0], optimizer=optimizer,
                 weight_decay=wds if K else wds[0], decay=decay, l1=l1s if K else l1s[0], l1_proximal=l1_proximal,
                 label_smoothing=epss if K else epss[0], z_loss=z_loss,
                 loss=getattr(loss_fn, "__name__", "custom") if loss_fn is not None else "cross_entropy",
                 batch_size=batch_size, seed=seeds if K else seeds[0],
                 scheduler=_describe(sched), scheduler_interval=scheduler_interval if sched else None,
                 grad_clip=grad_clip, early_stopping=None if early_stopping is None else dict(
                     patience=early_stopping.patience, min_delta=early_stopping.min_delta,
                     restore_best=early_stopping.restore_best),
                 batch_transform=_describe(batch_transform), autocast=str(autocast_dtype) if autocast_dtype else None)
    if optimizer == "sgd":
        knobs["momentum"] = momentum
    else:
        knobs["betas"] = list(betas)
    hists = [History(config=_config(model, data, dev, knobs, k if K else None)) for k in range(K or 1)]

    # 2. evaluation subsets: whole sets unless n_eval_* say otherwise
    ev = dataclasses.replace(data, X_train=data.X_train[:n_eval_train], y_train=data.y_train[:n_eval_train],
                             X_val=data.X_val[:n_eval_val], y_val=data.y_val[:n_eval_val])
    X, y, n = data.X_train, data.y_train, len(data.y_train)
    gens = [torch.Generator().manual_seed(s) for s in seeds]  # shuffling, one stream per model
    bar = None
    if progress:
        from .progress import progress_bar  # closing it leaves "fit: 5/5 epochs, ..." in a saved notebook
        bar = progress_bar(total=epochs, desc=f"fit x{K}" if K else "fit", unit="epoch")
    alive = [True] * (K or 1)
    # per-model knob vectors of a stacked model, on the device once (not rebuilt every step)
    col = lambda v: torch.tensor(v, dtype=torch.float32, device=dev).view(K, 1, 1)  # noqa: E731
    eps_arg = (col(epss) if any(epss) else None) if K else epss[0]
    l1_arg = col(l1s).view(K) if K else l1s[0]
    prox_arg = col([a * b for a, b in zip(lrs, l1s)]) if K else None  # stacked: no scheduler, so lr is fixed
    start = time.perf_counter()
    with seeded(seeds[0], dev):  # dropout masks and anything else drawn from the global generator
        for epoch in range(1, epochs + 1):
            # 3. one pass over shuffled mini-batches, in training mode
            model.train()
            for h in hists:
                h.lr.append(opt.param_groups[0]["lr"] if not K else h.config["lr"])
            perm = (torch.stack([torch.randperm(n, generator=g) for g in gens]) if K  # (K, n) or (n,)
                    else torch.randperm(n, generator=gens[0])).to(dev)
            for i in range(0, n, batch_size):
                idx = perm[..., i:i + batch_size]  # (B,) or (K, B)
                Xb, tb = X[idx], y[idx]
                if batch_transform is not None:
                    Xb, tb = batch_transform(Xb, tb, gens[0])
                with _autocast(dev, autocast_dtype):
                    logits = model(Xb)
                logits = logits.float() if autocast_dtype is not None else logits
                loss = loss_fn(logits, tb) if loss_fn is not None else _train_loss(logits, tb, eps_arg, K)
                if z_loss > 0:
                    loss = loss + z_loss * z_loss_term(logits)
                if any(l1s) and not l1_proximal:
                    loss = loss + l1_arg * (model.l1_norms() if K else l1_penalty(model))
                opt.zero_grad(set_to_none=True)
                loss.sum().backward() if K else loss.backward()  # stacked: d(sum)/d(model k) = d(loss_k)/d(model k)
                if grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                opt.step()
                if l1_proximal and any(l1s):
                    if K:
                        model.prox_l1_(prox_arg)
                    else:
                        prox_l1_(model, lr=opt.param_groups[0]["lr"], l1=l1s[0])
                if sched is not None and scheduler_interval == "step" and not plateau:
                    sched.step()
            # 4. measure train and validation in eval mode (dropout off), then any extra metrics
            logits = {"train": predict(model, ev.X_train, batch_size=eval_batch_size, autocast_dtype=autocast_dtype),
                      "val": predict(model, ev.X_val, batch_size=eval_batch_size, autocast_dtype=autocast_dtype)}
            kw = dict(loss_fn=loss_fn, batch_size=eval_batch_size, stacked=bool(K))
            tl, ta = loss_and_accuracy(logits["train"], ev.y_train, **kw)
            vl, va = loss_and_accuracy(logits["val"], ev.y_val, **kw)
            tl, ta, vl, va = ((v if K else [v]) for v in (tl, ta, vl, va))
            for k, h in enumerate(hists):
                if alive[k]:
                    h.train_loss.append(tl[k]); h.train_acc.append(ta[k])
                    h.val_loss.append(vl[k]); h.val_acc.append(va[k])
            h = hists[0]
            if metrics:
                with eval_mode(model), torch.no_grad():
                    for metric in metrics:
                        for name, value in metric(model, ev, logits).items():
                            h.extra.setdefault(name, []).append(float(value))
            if on_epoch_end is not None:
                on_epoch_end(epoch, model, h)
            if bar is not None:
                bar.update(1)
                if not K:
                    bar.set_postfix(train_loss=f"{tl[0]:.3f}", val_loss=f"{vl[0]:.3f}", refresh=False)
            # 5. schedule, then decide whether to stop
            if sched is not None and (plateau or scheduler_interval == "epoch"):
                sched.step(vl[0]) if plateau else sched.step()
            for k, hk in enumerate(hists):
                if alive[k] and not (math.isfinite(tl[k]) and math.isfinite(vl[k])):
                    alive[k] = False
                    hk.stop_reason = (f"diverged: loss became {tl[k] if not math.isfinite(tl[k]) else vl[k]} "
                                      f"at epoch {epoch}")
            if not any(alive):
                break
            if early_stopping is not None:
                stop, why = early_stopping.step(epoch, vl[0], model)
                if stop:
                    h.stop_reason = why
                    break
    if early_stopping is not None and early_stopping.restore_best and early_stopping.best_state is not None:
        model.load_state_dict(early_stopping.best_state)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    for hk in hists:
        hk.seconds = seconds / (K or 1)
        hk.update_best()
    return hists if K else hists[0]


def _per_model(name: str, value, K: int | None) -> list:
    """A knob as a list: K values for a stacked model (one value is repeated), else ``[value]``."""
    if isinstance(value, (list, tuple)):
        if not K:
            raise ValueError(f"{name}={value!r}: a list of values needs a stacked model (regviz.sweep)")
        if len(value) != K:
            raise ValueError(f"{name} has {len(value)} values for {K} stacked models")
        return list(value)
    return [value] * (K or 1)


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
            logits = model(_shared(model, X))
    except RuntimeError as exc:  # torch's "mat1 and mat2 shapes cannot be multiplied ..."
        what = _input_mismatch(model, data) or (
            f"{name} cannot take the dataset's inputs, a batch of shape {tuple(X.shape)} "
            f"(torch says: {str(exc).splitlines()[0]})")
        raise ValueError(f"{what}: {_fix_hint(model)}") from exc
    lead = ((_stacked(model),) if _stacked(model) else ()) + tuple(data.y_train[:2].shape)
    if not (isinstance(logits, torch.Tensor) and tuple(logits.shape[:-1]) == lead):
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"{name} returns {got} for a batch of {len(X)} examples, but training needs "
                         f"{lead + (data.num_classes,)} logits (batch, ..., num_classes): {_fix_hint(model)}")
    if logits.shape[-1] != data.num_classes:
        raise ValueError(f"{name} outputs {logits.shape[-1]} classes but the dataset has {data.num_classes} "
                         f"(labels 0-{data.num_classes - 1}): {_fix_hint(model)}")
