"""Chapter 06: one long MNIST-1D run, and where early stopping would stop on it for any patience, replayed; the
noisy-label FashionMNIST runs over seeds (restored best epoch vs last epoch); learning-rate schedules over seeds.

Prechelt, "Early Stopping - But When?", in Neural Networks: Tricks of the Trade (Springer, 1998).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from ..data import load_dataset
from ..device import seeded
from ..history import History
from ..models import MLP
from ..stopping import EarlyStopping
from ..sweep import sweep
from ..train import fit
from ..validate import check_int, check_number

PATIENCES = (1, 2, 3, 5, 8, 10, 15, 20, 30)
MIN_DELTAS = (0.0, 0.001, 0.01, 0.03)
LABEL_NOISE = (0.0, 0.2, 0.4)


def replay_early_stopping(val_loss: Sequence[float], patience: int, min_delta: float = 0.0) -> tuple[int, int]:
    """Where ``EarlyStopping(patience, min_delta)`` would have stopped on a stored validation curve.

    Feeds the stored losses to ``EarlyStopping.step`` one by one, so the answer is exactly what
    ``fit(..., early_stopping=...)`` would do on the same run (training is deterministic given the seed),
    without retraining.

    Args:
        val_loss: validation loss per epoch (epoch 1 first).
        patience, min_delta: as in ``EarlyStopping``.

    Returns:
        ``(stop_epoch, best_epoch)``, both 1-based; ``stop_epoch == len(val_loss)`` if it never triggers.
        ``best_epoch`` is the epoch whose weights ``restore_best`` would reload.
    """
    if len(val_loss) == 0:
        raise ValueError("val_loss is empty; give at least one epoch")
    es = EarlyStopping(patience=patience, min_delta=min_delta, restore_best=False)
    for epoch, v in enumerate(val_loss, start=1):
        stop, _ = es.step(epoch, float(v))
        if stop:
            return epoch, es.best_epoch or epoch
    return len(val_loss), es.best_epoch or len(val_loss)


@functools.lru_cache(maxsize=8)
def train_run(*, label_noise: float = 0.2, fast: bool = False, device=None, seed: int = 0) -> History:
    """One long MNIST-1D run (MLP, 1000 noisy training labels) whose curve the panel replays (cached per setting)."""
    check_number("label_noise", label_noise, high=1.0, high_inclusive=False)
    data = load_dataset("mnist1d", n_train=1000, n_val=1000, label_noise=label_noise, seed=seed, device=device)
    with seeded(seed, device):
        model = MLP(data.in_features, data.num_classes, width=128, depth=2)
        return fit(model, data, epochs=30 if fast else 80, lr=2e-3, batch_size=100, seed=seed, device=device,
                   progress=False)


def replay_grid(hist: History, patiences: Iterable[int] = PATIENCES,
                min_deltas: Iterable[float] = MIN_DELTAS) -> dict[tuple[int, float], tuple[int, int]]:
    """``{(patience, min_delta): (stop_epoch, best_epoch)}`` for every pair, replayed on ``hist.val_loss``."""
    return {(p, d): replay_early_stopping(hist.val_loss, check_int("patience", p), d)
            for p in patiences for d in min_deltas}


@dataclass(frozen=True)
class StoppingRun:
    """One chapter-06 run (``history``) and its ``replay_grid``: ``stops[(patience, min_delta)] = (stop, best)``."""

    history: History
    stops: dict[tuple[int, float], tuple[int, int]]


def replayed_run(*, label_noise: float = 0.2, fast: bool = False, device=None, seed: int = 0) -> StoppingRun:
    """``train_run`` and its ``replay_grid``."""
    hist = train_run(label_noise=label_noise, fast=fast, device=device, seed=seed)
    return StoppingRun(hist, replay_grid(hist))


@dataclass(frozen=True)
class Restored:
    """What early stopping keeps on one run vs its last epoch (epochs 1-based): it stops after epoch ``stop`` and
    restores the weights of epoch ``best``, with their validation accuracy and loss; and those of the last epoch."""

    stop: int
    best: int
    best_acc: float
    best_loss: float
    last_acc: float
    last_loss: float


def restored_vs_last(hist: History, patience: int = 5, min_delta: float = 0.0) -> Restored:
    """What ``EarlyStopping(patience, min_delta, restore_best=True)`` would have kept on one stored run, vs its last epoch.

    Replays the stored validation loss (``replay_early_stopping``), so for a deterministic run this is exactly
    the model that ``fit(..., early_stopping=...)`` restores; it also works for the members of a stacked
    ``sweep``, whose ``fit`` does not take ``early_stopping``.
    """
    stop, best = replay_early_stopping(hist.val_loss, patience, min_delta)
    return Restored(stop, best, hist.val_acc[best - 1], hist.val_loss[best - 1], hist.val_acc[-1], hist.val_loss[-1])


@dataclass(frozen=True)
class NoisyRuns:
    """``noisy_fashion_runs``'s result: one History per seed, and what early stopping keeps on each."""

    histories: list[History]
    stops: list[Restored]


def noisy_fashion_runs(*, seeds: Sequence[int] = (0, 1, 2), n_train: int = 2000, n_val: int = 2000,
                       label_noise: float = 0.4, epochs: int = 60, width: int = 512, p: float = 0.0,
                       lr: float = 1e-3, patience: int = 5, data_seed: int = 0, device=None, **fit_kwargs) -> NoisyRuns:
    """FashionMNIST with flipped training labels, one MLP (784-width-width-10, AdamW) per seed, trained long enough
    to memorise the noise (Arpit et al., ICML 2017; Zhang et al., ICLR 2017): the chapter's early-stopping headline.

    The seeds train as one stacked model (``sweep(knob="seed")``: they differ in initialisation and shuffling;
    the training subset and its flipped labels are fixed by ``data_seed``). Early stopping with restored weights
    is replayed on each stored curve (``restored_vs_last``).

    Args:
        fit_kwargs: more ``fit`` settings (``weight_decay``, ``label_smoothing``, ``batch_size`` ...; default
            batch 100, ``n_eval_train=500``).

    Returns:
        a ``NoisyRuns``: per seed, its History and ``restored_vs_last(h, patience)``.
    """
    check_number("label_noise", label_noise, high=1.0, high_inclusive=False)
    data = load_dataset("fashion_mnist", n_train=n_train, n_val=n_val, label_noise=label_noise, seed=data_seed,
                        device=device)
    fit_kwargs.setdefault("batch_size", 100)
    fit_kwargs.setdefault("n_eval_train", min(500, n_train))
    hists = sweep(lambda: MLP(data.in_features, data.num_classes, width=width, depth=2, p=p), data, knob="seed",
                  values=list(seeds), epochs=epochs, lr=lr, device=device, progress=False, **fit_kwargs)
    return NoisyRuns(list(hists), [restored_vs_last(h, patience) for h in hists])


def seed_runs(make_model: Callable[[], object], data, settings: dict[str, dict], *, seeds: Sequence[int] = (0, 1, 2),
              device=None, **fit_kwargs) -> dict[str, list[History]]:
    """``{name: [History per seed]}``: each setting trained once per seed, one ``fit`` after another (for knobs a
    stacked ``sweep`` cannot vary: schedules, batch size).

    Args:
        make_model: builds a fresh model (called inside ``seeded(seed)`` for each run).
        settings: ``{name: fit keyword arguments}``, e.g. ``{"cosine": {"scheduler": ...}, "B=512": {"batch_size": 512}}``.
        fit_kwargs: the ``fit`` settings all runs share (epochs, lr, batch_size ...); a setting overrides them.
    """
    out: dict[str, list[History]] = {}
    for name, kw in settings.items():
        out[name] = []
        for s in seeds:
            with seeded(s, device):
                model = make_model()
            out[name].append(fit(model, data, seed=s, device=device, progress=False, **{**fit_kwargs, **kw}))
    return out
