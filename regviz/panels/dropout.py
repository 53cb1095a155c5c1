"""Chapter 03 panel: dropout probability p and epochs -> learning curves, the gap, and the whole p sweep."""
from __future__ import annotations

from functools import lru_cache

from ..data import load_dataset
from ..device import resolve_device
from ..models import MLP
from ..plots import plot_curves
from ..sweep import sweep
from ..widgets import SliderPanel, choice_slider

PS = (0.0, 0.1, 0.3, 0.5, 0.7)


def train_grid(*, epochs: int = 40, seed: int = 0, device=None, width: int = 256, n_train: int = 300,
               values=PS, lr: float = 1e-3):
    """Every p at once (one batched ``sweep``): digits, MLP 2 x ``width`` with dropout p after each ReLU, AdamW.

    Results are cached per argument set, so a notebook's sweep and the panel's share one training run.

    Returns:
        ``{p: History}`` (a fresh dict; the Histories are shared with the cache: do not modify them).
    """
    return dict(_grid(epochs, seed, str(resolve_device(device)), width, n_train, tuple(values), lr))


@lru_cache(maxsize=8)
def _grid(epochs, seed, device, width, n_train, values, lr):
    data = load_dataset("digits", n_train=n_train, seed=seed, device=device)
    hists = sweep(lambda: MLP(data.in_features, data.num_classes, width=width, depth=2), data, knob="p",
                  values=list(values), epochs=epochs, lr=lr, batch_size=32, seed=seed, device=device,
                  progress=False)
    return tuple(zip(values, hists))


def panel(*, fast: bool = False, device=None, seed: int = 0) -> SliderPanel:
    """The chapter-03 panel: opening it trains the whole p grid in one batched sweep; moving a slider redraws."""
    dev = resolve_device(device)
    max_epochs = 20 if fast else 40
    marks = (5, 10, 15, 20) if fast else (10, 20, 30, 40)
    grid: dict[float, object] = {}

    def precompute():
        grid.update(train_grid(epochs=max_epochs, seed=seed, device=dev))
        for p, h in grid.items():
            yield {"p": p}, h

    def run(p):  # every slider position is in the precomputed grid; this only runs if that failed
        raise ValueError(f"p={p} was not precomputed")

    def draw(hist, fig, settings):
        ep, cur = settings["epochs"], settings["p"]
        h = hist.truncated(ep)
        ax1, ax2, ax3 = fig.subplots(1, 3)
        plot_curves(h, metric="loss", ax=ax1, title=f"loss, dropout p={cur:g}")
        for i, (p, g) in enumerate(grid.items()):
            g = g.truncated(ep)
            ax2.plot(g.epochs, g.val_loss, color=f"C{i}", lw=2.5 if p == cur else 1.0, label=f"p={p:g}")
        ax2.set_yscale("log")
        ax2.set_xlabel("epoch")
        ax2.set_title("validation loss, every p", fontsize=9)
        ax2.legend(fontsize=7)
        ax2.grid(alpha=0.3)
        ps = list(grid)
        hs = [g.truncated(ep) for g in grid.values()]
        ax3.plot(ps, [g.val_loss[-1] for g in hs], "o-", label="validation loss")
        ax3.plot(ps, [g.loss_gap[-1] for g in hs], "s--", label="gap (val - train loss)")
        ax3.axvline(cur, color="k", lw=0.8)
        for p, g in zip(ps, hs):
            ax3.annotate(f"best ep {g.best_epoch}", (p, g.val_loss[-1]), fontsize=7, xytext=(0, 6),
                         textcoords="offset points", ha="center")
        ax3.set_xlabel("dropout p")
        ax3.set_title(f"at epoch {ep}", fontsize=9)
        ax3.legend(fontsize=8)
        ax3.grid(alpha=0.3)
        fig.subplots_adjust(left=0.07, right=0.99, bottom=0.15, top=0.9, wspace=0.32)  # fixed: tight_layout costs ~40% of a redraw

    controls = {
        "p": choice_slider("dropout p", PS, 0.5),
        "epochs": choice_slider("epochs shown", marks, marks[-1]),
    }
    return SliderPanel(run, controls, draw, view_only=("epochs",), precompute=precompute, figsize=(13, 3.8),
                       title="Dropout on digits (300 examples): MLP 2x256, AdamW lr 1e-3, batch 32")
