"""Chapter 01 panel: width, training-set size, label noise and epochs -> learning curves and the gap."""
from __future__ import annotations

import torch

from ..data import load_dataset
from ..device import resolve_device
from ..metrics import diagnose
from ..models import MLP
from ..plots import plot_curves
from ..train import fit
from ..widgets import SliderPanel, choice_slider

WIDTHS = (8, 32, 128, 256)
N_TRAIN = (50, 100, 200, 400)
NOISE = (0.0, 0.1, 0.2, 0.4)
DEFAULT = dict(width=256, n_train=100, label_noise=0.0)


def train_setting(*, width: int, n_train: int, label_noise: float, epochs: int = 60, seed: int = 0,
                  device=None, lr: float = 3e-3):
    """One digits MLP run (depth 2, AdamW, batch 64) for the panel; returns its History."""
    data = load_dataset("digits", n_train=n_train, label_noise=label_noise, seed=seed, device=device)
    torch.manual_seed(seed)
    model = MLP(data.in_features, data.num_classes, width=width, depth=2)
    return fit(model, data, epochs=epochs, lr=lr, batch_size=64, seed=seed, device=device, progress=False)


def draw(hist, fig, settings) -> None:
    """Loss and accuracy curves up to the ``epochs`` slider, gap shaded, diagnosis in the title."""
    h = hist.truncated(settings.get("epochs", hist.num_epochs))
    ax1, ax2 = fig.subplots(1, 2)
    plot_curves(h, metric="loss", ax=ax1, title="loss (log scale)")
    plot_curves(h, metric="acc", ax=ax2, title="accuracy")
    ax2.set_ylim(0, 1.02)
    f = h.final()
    fig.suptitle(f"epoch {h.num_epochs}: gap (val - train loss) = {f['loss_gap']:.3f}, "
                 f"val acc = {f['val_acc']:.3f} -> {diagnose(h)}", fontsize=10)


def panel(*, fast: bool = False, device=None, seed: int = 0) -> SliderPanel:
    """The chapter-01 panel. Opening it trains the default and every one-slider-away setting (the grid);
    any other combination trains on demand (under a second on a 2-core CPU) and is cached."""
    dev = resolve_device(device)
    max_epochs = 30 if fast else 60
    epoch_marks = (5, 10, 20, 30) if fast else (10, 20, 40, 60)

    def run(width, n_train, label_noise):
        return train_setting(width=width, n_train=n_train, label_noise=label_noise, epochs=max_epochs,
                             seed=seed, device=dev)

    def precompute():
        grid = [dict(DEFAULT)]
        grid += [{**DEFAULT, "width": w} for w in WIDTHS if w != DEFAULT["width"]]
        grid += [{**DEFAULT, "n_train": n} for n in N_TRAIN if n != DEFAULT["n_train"]]
        grid += [{**DEFAULT, "label_noise": q} for q in NOISE if q != DEFAULT["label_noise"]]
        for s in grid:
            yield s, run(**s)

    controls = {
        "width": choice_slider("width", WIDTHS, DEFAULT["width"]),
        "n_train": choice_slider("n_train", N_TRAIN, DEFAULT["n_train"]),
        "label_noise": choice_slider("label noise", NOISE, DEFAULT["label_noise"]),
        "epochs": choice_slider("epochs shown", epoch_marks, epoch_marks[-1]),
    }
    return SliderPanel(run, controls, draw, view_only=("epochs",), precompute=precompute,
                       title="Overfitting on digits: a 2-hidden-layer MLP (AdamW, lr 3e-3)")
