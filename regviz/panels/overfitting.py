"""Chapter 01 panel: width, training-set size, label noise and epochs -> learning curves and the gap."""
from __future__ import annotations

from ..experiments.overfitting import DEFAULT, N_TRAIN, NOISE, WIDTHS, one_slider_away, train_setting
from ..views.overfitting import CurvesView
from ..widgets import SliderPanel, choice_slider


def panel(*, fast: bool = False, device=None, seed: int = 0) -> SliderPanel:
    """The chapter-01 panel. Opening it trains the default and every one-slider-away setting (the grid);
    any other combination trains on demand (under a second on a 2-core CPU) and is cached."""
    max_epochs = 30 if fast else 60
    epoch_marks = (5, 10, 20, 30) if fast else (10, 20, 40, 60)

    def run(width, n_train, label_noise):
        return train_setting(width=width, n_train=n_train, label_noise=label_noise, epochs=max_epochs,
                             seed=seed, device=device)

    def precompute():
        for s in one_slider_away(DEFAULT):
            yield s, run(**s)

    controls = {
        "width": choice_slider("width", WIDTHS, DEFAULT["width"]),
        "n_train": choice_slider("n_train", N_TRAIN, DEFAULT["n_train"]),
        "label_noise": choice_slider("label_noise", NOISE, DEFAULT["label_noise"]),
        "epochs": choice_slider("epochs shown", epoch_marks, epoch_marks[-1]),
    }
    return SliderPanel(run, controls, CurvesView(), view_only=("epochs",), precompute=precompute,
                       title="Overfitting on digits: a 2-hidden-layer MLP (AdamW, lr 3e-3)")
