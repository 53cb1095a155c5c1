"""Chapter 02 panel: the penalty (L2 as SGD weight decay, or L1) and its strength lambda -> curves, gap, weights."""
from __future__ import annotations

import math

import torch

from ..data import load_dataset
from ..device import resolve_device
from ..models import MLP
from ..penalties import ProximalSGD, decay_groups, l1_penalty
from ..plots import plot_curves
from ..train import fit
from ..widgets import SliderPanel, choice_slider, log_slider

LAMBDAS = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
PENALTIES = ("L2", "L1")
KINDS = ("L2", "L1", "L1-prox")  # what train_setting accepts; the panel offers PENALTIES
DEFAULT = dict(penalty="L2", lam=1e-3)
SMALL = 1e-3  # "near zero" for the histogram's title


def _weights(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten().cpu() for p in model.parameters() if p.ndim >= 2])


def train_setting(*, penalty: str, lam: float, epochs: int = 60, marks=(), seed: int = 0, device=None,
                  lr: float = 0.05, momentum: float = 0.9, n_train: int = 300):
    """One digits run (``n_train`` examples, MLP 2x128, SGD, batch 32).

    ``"L2"``: ``SGD(weight_decay=lam)`` on the weights (biases at 0, via ``decay_groups``), i.e. the loss
    plus ``lam * l2_penalty``; ``"L1"``: the loss plus ``lam * l1_penalty`` (subgradient steps);
    ``"L1-prox"``: SGD on the data loss, then ``soft_threshold(w, lr * lam)`` (``ProximalSGD``).

    Returns:
        ``{"history": History, "weights": {epoch: flat weight tensor}}`` for each epoch in ``marks``.
    """
    if penalty not in KINDS:
        raise ValueError(f"penalty={penalty!r}; allowed: {', '.join(KINDS)}")
    data = load_dataset("digits", n_train=n_train, seed=seed, device=device)
    torch.manual_seed(seed)
    model = MLP(data.in_features, data.num_classes, width=128, depth=2)
    snaps = {}

    def snap(epoch, m, hist):
        if epoch in marks:
            snaps[epoch] = _weights(m)

    common = dict(epochs=epochs, lr=lr, momentum=momentum, batch_size=32, seed=seed, device=device, progress=False,
                  on_epoch_end=snap)
    if penalty == "L2":
        hist = fit(model, data, optimizer="sgd", params=decay_groups(model, lam), **common)
    elif penalty == "L1":
        hist = fit(model, data, optimizer="sgd", penalty=(lambda m: lam * l1_penalty(m)) if lam else None, **common)
    else:
        hist = fit(model, data, optimizer=lambda params, lr, weight_decay: ProximalSGD(params, lr=lr, l1=lam,
                                                                                      momentum=momentum), **common)
    return {"history": hist, "weights": snaps}


def panel(*, fast: bool = False, device=None, seed: int = 0) -> SliderPanel:
    """The chapter-02 panel. Opening it trains the L2 grid (every lambda); L1 settings train on demand
    (about a second each on a 2-core CPU) and are cached."""
    dev = resolve_device(device)
    max_epochs = 20 if fast else 40
    marks = (5, 10, 15, 20) if fast else (10, 20, 30, 40)
    done: dict[tuple, dict] = {}

    def run(penalty, lam):
        res = train_setting(penalty=penalty, lam=lam, epochs=max_epochs, marks=marks, seed=seed, device=dev)
        done[(penalty, lam)] = res
        return res

    def precompute():
        for lam in LAMBDAS:
            s = {"penalty": DEFAULT["penalty"], "lam": lam}
            yield s, run(**s)

    def draw(res, fig, settings):
        ep = settings["epochs"]
        h = res["history"].truncated(ep)
        if h.diverged:
            raise ValueError(f"this run diverged: {h.stop_reason}")
        ax1, ax2, ax3 = fig.subplots(1, 3)
        plot_curves(h, metric="loss", ax=ax1, title=f"loss, {settings['penalty']} lambda={settings['lam']:g}")
        w = res["weights"][ep]
        small = (w.abs() < SMALL).float().mean().item()
        counts = torch.histc(w, bins=80, min=-0.4, max=0.4).clamp(min=0.5)  # 0.5: empty bins on a log axis
        ax2.stairs(counts.numpy(), torch.linspace(-0.4, 0.4, 81).numpy(), fill=True, color="C2", baseline=0.5)
        ax2.set_yscale("log")
        ax2.set_ylabel("count (log)")
        ax2.set_xlabel("weight value")
        ax2.set_title(f"weights at epoch {ep}: {small:.1%} with |w| < {SMALL:g}", fontsize=9)
        pts = sorted((lam, r["history"].truncated(ep)) for (pen, lam), r in done.items()
                     if pen == settings["penalty"])
        xs = [lam if lam > 0 else LAMBDAS[1] / 3 for lam, _ in pts]  # lambda=0 drawn left of the first value
        ax3.plot(xs, [hh.val_loss[-1] for _, hh in pts], "o-", label="validation")
        ax3.plot(xs, [hh.train_loss[-1] for _, hh in pts], "o--", label="train")
        cur = settings["lam"] if settings["lam"] > 0 else LAMBDAS[1] / 3
        ax3.axvline(cur, color="k", lw=0.8)
        ax3.set_xscale("log")
        ax3.set_yscale("log")
        ax3.set_xlabel("lambda (leftmost point: 0)")
        ax3.set_title(f"loss at epoch {ep} vs lambda (trained so far)", fontsize=9)
        ax3.legend(fontsize=8)
        ax3.grid(alpha=0.3)
        fig.subplots_adjust(left=0.07, right=0.99, bottom=0.15, top=0.9, wspace=0.32)  # fixed: tight_layout costs ~40% of a redraw

    controls = {
        "penalty": choice_slider("penalty", PENALTIES, DEFAULT["penalty"]),
        "lam": log_slider("lambda", LAMBDAS, DEFAULT["lam"]),
        "epochs": choice_slider("epochs shown", marks, marks[-1]),
    }
    return SliderPanel(run, controls, draw, view_only=("epochs",), precompute=precompute, figsize=(13, 3.8),
                       title="L2 / L1 on digits (300 examples): MLP 2x128, SGD lr 0.05, momentum 0.9")
