"""THE training loop: ``fit`` -> ``History`` (or ``Histories`` for a stacked model, see ``regviz.stacked``).

Data stay as tensors on the device; each epoch slices a shuffled index into mini-batches (no per-sample
DataLoader), so the loop's cost is the model's own work. What differs between one model and K stacked ones
lives in a plan (``regviz.plan``); the loop itself does not know how many models it trains.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable, Mapping, Sequence

import torch
from torch import nn

from .checks import _fix_hint, _input_mismatch, check_fit_args, check_model_fits_data  # noqa: F401 (re-exported)
from .data import Dataset
from .device import resolve_device, seeded
from .evaluation import LossFn, autocast, evaluate, loss_and_accuracy, predict  # noqa: F401 (re-exported)
from .history import Histories, History
from .layers import eval_mode
from .optim import DECAY, OPTIMIZERS, StackedOptimizer, make_optimizer  # noqa: F401 (re-exported)
from .plan import plan_for
from .runconfig import PER_MODEL, describe, dropout_rates, run_config  # noqa: F401 (re-exported)
from .stopping import EarlyStopping

Metric = Callable[[nn.Module, Dataset, Mapping[str, torch.Tensor]], Mapping[str, float]]


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
    on_epoch_end: Callable[[int, nn.Module, History | Histories], None] | None = None,
    n_eval_train: int | None = None,
    n_eval_val: int | None = None,
    eval_batch_size: int = 8192,
    autocast_dtype: torch.dtype | None = None,
) -> History | Histories:
    """Train ``model`` on ``data`` and return its per-epoch ``History`` (every knob lands in ``History.config``).

    The step loss is ``cross_entropy(logits, targets, label_smoothing) + z_loss * z_loss(logits)
    + l1 * sum|w|`` (the L1 term only when ``l1_proximal`` is False).

    Args:
        model: trained in place (and moved to ``device``). Logits may be (B, C) or, for a language model,
            (B, T, V) with (B, T) targets. A stacked model (``regviz.stacked.StackedMLP`` / ``StackedCNN``) trains
            K models at once, each on its own batches and with its own loss; then ``lr``, ``weight_decay``,
            ``l1``, ``label_smoothing`` and ``seed`` may be lists of K, and every hook below works per model.
        data: a ``Dataset``; moved to ``device`` if it lives elsewhere.
        epochs: maximum number of passes over the training set.
        lr, momentum, betas: optimiser settings (``momentum`` for SGD, ``betas`` for Adam/AdamW).
        optimizer: ``"adamw"`` (decoupled decay), ``"adam"`` (decay added to the gradient), ``"sgd"``.
        weight_decay: lambda, handed to the optimiser. decay: ``"all"`` parameters, or only ``"weights"``
            (biases and normalisation parameters are not decayed; ``regviz.penalties.decay_groups``).
        l1: strength of the L1 penalty on weights (biases skipped). l1_proximal: instead of adding the
            penalty to the loss (subgradient), soft-threshold the weights by ``lr * l1`` after each step (proximal
            SGD; ISTA only for full-batch gradient steps, a heuristic after momentum or Adam steps:
            ``regviz.penalties.prox_l1_``).
        label_smoothing: eps of ``F.cross_entropy``; training only (evaluation reports plain cross-entropy).
        z_loss: coefficient of ``regviz.losses.z_loss`` (PaLM used 1e-4); training only.
        fused: see ``regviz.optim.make_optimizer``.
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
        grad_clip: max global gradient norm (None = no clipping); per model for a stacked model.
        early_stopping: an ``EarlyStopping``; with ``restore_best`` the best epoch's weights are reloaded. A
            stacked model gets one rule per model (this object is model 0's).
        metrics: callables ``(model, eval_data, logits) -> {name: float}`` run in eval mode after each epoch; the
            values go to ``History.extra[name]``. ``eval_data`` holds the evaluation subsets below and
            ``logits = {"train": ..., "val": ...}`` the model's logits on them (already computed: no second pass;
            for a stacked model, model k's logits, once per model).
        on_epoch_end: ``(epoch, model, history)`` called after each epoch's evaluation (``Histories`` if stacked).
        n_eval_train, n_eval_val: examples used to measure the train / validation loss each epoch (None = all).
        eval_batch_size: examples per evaluation forward pass.
        autocast_dtype: e.g. ``torch.bfloat16``: forward passes under ``torch.autocast`` (loss in float32).

    Returns:
        A ``History`` (``Histories``, a list of K, for a stacked model).
    """
    plan = plan_for(model)
    lrs, wds, l1s, epss, seeds = (plan.per_model(name, v) for name, v in (
        ("lr", lr), ("weight_decay", weight_decay), ("l1", l1), ("label_smoothing", label_smoothing), ("seed", seed)))
    check_fit_args(epochs=epochs, batch_size=batch_size, lrs=lrs, weight_decays=wds, l1s=l1s, label_smoothings=epss,
                   seeds=seeds, z_loss=z_loss, optimizer=optimizer, decay=decay, scheduler_interval=scheduler_interval,
                   grad_clip=grad_clip, n_eval_train=n_eval_train, n_eval_val=n_eval_val)
    dev = resolve_device(device)
    model.to(dev)
    data = data if data.device == dev else data.to(dev)
    check_model_fits_data(model, data)  # a clear ValueError before the first step, not torch's shape error

    # 1. optimiser, schedule, one stopping rule per model (divergence always stops), the run records
    opt = plan.optimizer(optimizer, lr=lrs, weight_decay=wds, decay=decay, momentum=momentum, betas=betas,
                         fused=fused, l1=l1s, label_smoothing=epss, dev=dev)
    sched = scheduler(opt) if scheduler is not None else None
    plateau = isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
    plan.check_scheduler(plateau)
    stoppers = (early_stopping or EarlyStopping(patience=None, restore_best=False)).start(plan.num_models)
    knobs = dict(epochs=epochs, lr=plan.knob(lrs), optimizer=optimizer, weight_decay=plan.knob(wds), decay=decay,
                 l1=plan.knob(l1s), l1_proximal=l1_proximal, label_smoothing=plan.knob(epss), z_loss=z_loss,
                 loss=getattr(loss_fn, "__name__", "custom") if loss_fn is not None else "cross_entropy",
                 batch_size=batch_size, seed=plan.knob(seeds), scheduler=describe(sched),
                 scheduler_interval=scheduler_interval if sched else None, grad_clip=grad_clip,
                 early_stopping=early_stopping.config if early_stopping is not None else None,
                 batch_transform=describe(batch_transform), autocast=str(autocast_dtype) if autocast_dtype else None)
    knobs.update(momentum=momentum) if optimizer == "sgd" else knobs.update(betas=list(betas))
    K = plan.num_models
    hists = [History(config=run_config(model, data, dev, knobs, k if K > 1 else None)) for k in range(K)]

    # 2. evaluation subsets (whole sets unless n_eval_* say otherwise), shuffling streams, progress bar
    ev = dataclasses.replace(data, X_train=data.X_train[:n_eval_train], y_train=data.y_train[:n_eval_train],
                             X_val=data.X_val[:n_eval_val], y_val=data.y_val[:n_eval_val])
    X, y, n = data.X_train, data.y_train, len(data.y_train)
    gens = [torch.Generator().manual_seed(s) for s in seeds]  # one stream per model
    bar = None
    if progress:
        from .progress import progress_bar  # closing it leaves "fit: 5/5 epochs, ..." in a saved notebook
        bar = progress_bar(total=epochs, desc=plan.label, unit="epoch")
    alive, frozen = [True] * K, [None] * K  # frozen[k]: model k's weights when it stopped while others train on
    start = time.perf_counter()
    with seeded(seeds[0], dev):  # dropout masks and anything else drawn from the global generator
        for epoch in range(1, epochs + 1):
            # 3. one pass over shuffled mini-batches, in training mode
            model.train()
            for h, lr_k in zip(hists, plan.lrs(opt)):
                h.lr.append(lr_k)
            perm = plan.permutation(n, gens).to(dev)  # (n,) or (K, n)
            for i in range(0, n, batch_size):
                idx = perm[..., i:i + batch_size]  # (B,) or (K, B)
                Xb, tb = X[idx], y[idx]
                if batch_transform is not None:
                    Xb, tb = plan.transform(batch_transform, Xb, tb, gens)
                with autocast(dev, autocast_dtype):
                    logits = model(Xb)
                logits = logits.float() if autocast_dtype is not None else logits
                loss = plan.loss(logits, tb, loss_fn)  # one per model
                if z_loss > 0:
                    loss = loss + z_loss * plan.z_loss(logits)
                if any(l1s) and not l1_proximal:
                    loss = loss + plan.l1_term()
                opt.zero_grad(set_to_none=True)
                plan.backward(loss)
                if grad_clip is not None:
                    plan.clip_(grad_clip)
                opt.step()
                if l1_proximal and any(l1s):
                    plan.prox_(opt)
                if sched is not None and scheduler_interval == "step" and not plateau:
                    sched.step()
            # 4. measure train and validation in eval mode (dropout off), then any extra metrics
            logits = {"train": predict(model, ev.X_train, batch_size=eval_batch_size, autocast_dtype=autocast_dtype),
                      "val": predict(model, ev.X_val, batch_size=eval_batch_size, autocast_dtype=autocast_dtype)}
            tl, ta = plan.scores(logits["train"], ev.y_train, loss_fn=loss_fn, batch_size=eval_batch_size)
            vl, va = plan.scores(logits["val"], ev.y_val, loss_fn=loss_fn, batch_size=eval_batch_size)
            for k, h in enumerate(hists):
                if alive[k]:
                    h.train_loss.append(tl[k]); h.train_acc.append(ta[k])
                    h.val_loss.append(vl[k]); h.val_acc.append(va[k])
            if metrics:
                with eval_mode(model), torch.no_grad():
                    for k, h in enumerate(hists):
                        for metric in metrics if alive[k] else ():
                            for name, value in metric(model, ev, plan.logits_of(logits, k)).items():
                                h.extra.setdefault(name, []).append(float(value))
            if on_epoch_end is not None:
                on_epoch_end(epoch, model, plan.result(hists))
            if bar is not None:
                bar.update(1)
                postfix = plan.postfix(tl, vl)
                if postfix:
                    bar.set_postfix(**postfix, refresh=False)
            # 5. schedule, then let each model's rule decide whether it stops (divergence or patience)
            if sched is not None and (plateau or scheduler_interval == "epoch"):
                sched.step(vl[0]) if plateau else sched.step()
            for k, rule in enumerate(stoppers):
                if alive[k]:
                    stop, why = rule.step(epoch, vl[k], train_loss=tl[k], state=plan.state(k))
                    if stop:
                        hists[k].stop_reason, alive[k] = why, False
                        frozen[k] = plan.state(k)() if any(alive) else None
            if not any(alive):
                break
    for k, rule in enumerate(stoppers):  # best weights where the rule keeps them, else those it stopped with
        if not rule.restore(load=plan.load(k)) and frozen[k] is not None:
            plan.load(k)(frozen[k])
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    for h in hists:
        h.seconds = seconds / K
        h.update_best()
    return plan.result(hists)

