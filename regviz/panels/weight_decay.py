"""Chapter 02 panel: weight_decay (L2, as SGD weight decay) and l1 -> curves, gap, weights, loss against each."""
from __future__ import annotations

from ..experiments.weight_decay import DEFAULT, LAMBDAS, train_setting
from ..views.weight_decay import PenaltyView
from ..widgets import SliderPanel, choice_slider, log_slider


def panel(*, fast: bool = False, device=None, seed: int = 0) -> SliderPanel:
    """The chapter-02 panel. Opening it trains the weight_decay grid (l1 = 0); other settings (L1, or both at
    once) train on demand (about a second each on a 2-core CPU) and are cached."""
    max_epochs = 20 if fast else 40
    marks = (5, 10, 15, 20) if fast else (10, 20, 30, 40)
    done: dict[tuple, object] = {}  # every run so far, by (weight_decay, l1): the view draws loss against each

    def run(weight_decay, l1):
        done[(weight_decay, l1)] = train_setting(weight_decay=weight_decay, l1=l1, epochs=max_epochs, marks=marks,
                                                 seed=seed, device=device)
        return done[(weight_decay, l1)]

    def precompute():
        for wd in LAMBDAS:
            yield {"weight_decay": wd, "l1": 0.0}, run(wd, 0.0)

    controls = {
        "weight_decay": log_slider("weight_decay", LAMBDAS, DEFAULT["weight_decay"]),
        "l1": log_slider("l1", LAMBDAS, DEFAULT["l1"]),
        "epochs": choice_slider("epochs shown", marks, marks[-1]),
    }
    view = PenaltyView(done, zero_at=LAMBDAS[1] / 3)  # strength 0 drawn left of the first value
    return SliderPanel(run, controls, view, view_only=("epochs",), precompute=precompute, figsize=(13, 3.8),
                       title="weight_decay (L2) and l1 on digits (300 examples): MLP 2x128, SGD lr 0.05, momentum 0.9")
