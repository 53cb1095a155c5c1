"""K settings of one knob trained as ONE stacked model (``regviz.stacked``): one forward pass, one optimiser.

``sweep`` builds K copies of an MLP or CNN exactly as K ``fit`` calls would, stacks them and trains the stack
with ``fit`` itself (the one epoch loop), each model with its own knob value, seed and batches.
For p = 0 a sweep reproduces K sequential ``fit`` calls with the same seeds (tests check it).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from .checks import check_model_fits_data
from .data import Dataset
from .device import resolve_device, seeded
from .history import Histories
from .optim import StackedOptimizer  # noqa: F401 (re-exported: old imports read it from here)
from .stacked import StackedCNN, StackedMLP, stack  # noqa: F401 (re-exported)
from .train import fit
from .validate import check_choice, check_probability

KNOBS = ("weight_decay", "lr", "p", "label_smoothing", "l1", "seed")  # fit's own names (p: the models' dropout)


def sweep(
    make_model: Callable[[], nn.Module],
    data: Dataset,
    *,
    knob: str,
    values: Sequence[float],
    device: str | torch.device | None = None,
    seed: int = 0,
    **fit_kwargs,
) -> Histories:
    """Train ``len(values)`` copies of ``make_model()`` at once, one per value of ``knob``, with ``fit``.

    Model k is built inside ``seeded(seed_k)`` and shuffled with ``seed_k`` exactly as ``fit(..., seed=seed_k)``
    would (``seed_k`` is ``values[k]`` for ``knob="seed"``, else ``seed``).

    Args:
        make_model: builds one fresh ``regviz.MLP`` or ``regviz.CNN`` (called K times).
        knob: one of ``KNOBS``: ``weight_decay``, ``lr``, ``p`` (dropout after every hidden layer),
            ``label_smoothing``, ``l1``, ``seed``.
        values: the K settings.
        fit_kwargs: as in ``fit`` (epochs, optimizer, batch_size, early_stopping, grad_clip, z_loss, ...).

    Returns:
        One ``History`` per value, in order; each config names its own value and ``sweep=knob``.
    """
    check_choice("knob", knob, KNOBS)
    values = list(values)
    if not values:
        raise ValueError("values is empty; give at least one setting")
    if knob == "p":
        for v in values:
            check_probability("p", v)
    dev = resolve_device(device)
    if data.device != dev:
        data = data.to(dev)
    seeds = [int(v) for v in values] if knob == "seed" else [seed] * len(values)
    models = []
    for k, s in enumerate(seeds):
        with seeded(s, dev):  # each model initialised as fit's caller would, without touching the caller's RNG
            m = make_model().to(dev)
        if k == 0:
            check_model_fits_data(m, data)  # before K copies are built and stacked
        models.append(m)
    stacked = stack(models, p=values if knob == "p" else None).to(dev)
    fit_kwargs.setdefault("progress", True)
    if knob not in ("p", "seed"):
        fit_kwargs[knob] = values
    hists = fit(stacked, data, seed=seeds, device=dev, **fit_kwargs)
    for h in hists:
        h.config["sweep"] = knob
    return hists
