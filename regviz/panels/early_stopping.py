"""Chapter 06 panel: where early stopping would stop, for every patience, replayed from one stored run.

Prechelt, "Early Stopping - But When?", in Neural Networks: Tricks of the Trade (Springer, 1998).
"""
from __future__ import annotations

import functools
from typing import Sequence

import torch

from ..data import load_dataset
from ..history import History
from ..models import MLP
from ..stopping import EarlyStopping
from ..train import fit
from ..widgets import SliderPanel, choice_slider

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
    data = load_dataset("mnist1d", n_train=1000, n_val=1000, label_noise=label_noise, seed=seed, device=device)
    torch.manual_seed(seed)
    model = MLP(data.in_features, data.num_classes, width=128, depth=2)
    return fit(model, data, epochs=30 if fast else 80, lr=2e-3, batch_size=100, seed=seed, device=device,
               progress=False)


def plot_early_stopping(hist: History, fig, settings: dict) -> None:
    """Loss curves with the stop epoch and the restored (best) epoch marked; right: stop epoch vs patience."""
    patience, min_delta = settings["patience"], settings["min_delta"]
    stop, best = replay_early_stopping(hist.val_loss, patience, min_delta)
    ax, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    ep = hist.epochs
    ax.plot(ep, hist.train_loss, "--", color="C0", label="train")
    ax.plot(ep, hist.val_loss, "-", color="C1", label="validation")
    ax.axvspan(stop, len(ep) + 0.5, color="grey", alpha=0.15, label="epochs saved")
    ax.axvline(stop, color="k", lw=1, label=f"stop (epoch {stop})")
    ax.plot([best], [hist.val_loss[best - 1]], "o", color="C3", ms=8,
            label=f"restored: epoch {best}, val {hist.val_loss[best - 1]:.3f}")
    ax.set_xlabel("epoch"); ax.set_ylabel("cross-entropy loss"); ax.set_yscale("log")
    ax.set_title(f"patience={patience}, min_delta={min_delta:g}: restored val acc {hist.val_acc[best - 1]:.3f} "
                 f"(final {hist.val_acc[-1]:.3f})", fontsize=9)
    ax.legend(fontsize=7); ax.grid(alpha=0.3)
    stops = [replay_early_stopping(hist.val_loss, p, min_delta)[0] for p in PATIENCES]
    ax2.plot(PATIENCES, stops, "o-", color="k")
    ax2.plot([patience], [stop], "o", color="C3", ms=9)
    ax2.axhline(hist.best_epoch, color="C3", ls=":", lw=1, label=f"best epoch of the run ({hist.best_epoch})")
    ax2.set_xlabel("patience"); ax2.set_ylabel("stop epoch"); ax2.legend(fontsize=7); ax2.grid(alpha=0.3)
    fig.tight_layout()


def panel(*, fast: bool = False, device=None, seed: int = 0) -> SliderPanel:
    """Patience and min_delta sliders replay a stored run (no retraining); the label-noise slider retrains."""
    controls = {"label_noise": choice_slider("label noise", LABEL_NOISE, 0.2),
                "patience": choice_slider("patience", PATIENCES, 5),
                "min_delta": choice_slider("min_delta", MIN_DELTAS, 0.0)}

    def run(label_noise):
        return train_run(label_noise=label_noise, fast=fast, device=device, seed=seed)

    return SliderPanel(run, controls, plot_early_stopping, view_only=("patience", "min_delta"),
                       title="Early stopping: where it stops, and which weights it restores")
