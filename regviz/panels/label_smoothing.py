"""Chapter 04 panel: label_smoothing (and label noise) -> NLL/ECE curves, reliability diagram, confidences."""
from __future__ import annotations

from ..experiments.label_smoothing import DEFAULT, EPS, NOISE, train_setting
from ..views.label_smoothing import CalibrationView
from ..widgets import SliderPanel, choice_slider


def panel(*, fast: bool = False, device=None, seed: int = 0) -> SliderPanel:
    """The chapter-04 panel. Opening it trains every label_smoothing on clean labels (one MLP each, under a second apiece on
    a 2-core CPU); noisy-label settings train on demand and are cached."""
    max_epochs = 20 if fast else 25
    epoch_marks = (5, 10, 15, 20) if fast else (5, 10, 15, 25)

    def run(label_smoothing, label_noise):
        return train_setting(label_smoothing=label_smoothing, label_noise=label_noise, epochs=max_epochs, marks=epoch_marks, seed=seed,
                             device=device)

    def precompute():
        for e in EPS:
            yield {"label_smoothing": e, "label_noise": 0.0}, run(label_smoothing=e, label_noise=0.0)

    controls = {
        "label_smoothing": choice_slider("label_smoothing", EPS, DEFAULT["label_smoothing"]),
        "label_noise": choice_slider("label_noise", NOISE, DEFAULT["label_noise"]),
        "probabilities": choice_slider("probabilities", ("raw", "temperature"), "raw"),
        "epochs": choice_slider("epoch shown", epoch_marks, epoch_marks[-1]),
    }
    return SliderPanel(run, controls, CalibrationView(), view_only=("epochs", "probabilities"), precompute=precompute,
                       title="Label smoothing on MNIST-1D: a 128x2 MLP that memorises 1,000 training signals",
                       figsize=(13, 3.8))
