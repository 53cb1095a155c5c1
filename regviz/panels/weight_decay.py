"""Chapter 02 panel: the penalty (L2 as SGD weight decay, or L1) and its strength lambda -> curves, gap, weights."""
from __future__ import annotations

from ..experiments.weight_decay import DEFAULT, LAMBDAS, PENALTIES, train_setting
from ..views.weight_decay import PenaltyView
from ..widgets import SliderPanel, choice_slider, log_slider


def panel(*, fast: bool = False, device=None, seed: int = 0) -> SliderPanel:
    """The chapter-02 panel. Opening it trains the L2 grid (every lambda); L1 settings train on demand
    (about a second each on a 2-core CPU) and are cached."""
    max_epochs = 20 if fast else 40
    marks = (5, 10, 15, 20) if fast else (10, 20, 30, 40)
    done: dict[tuple, dict] = {}  # every run so far: the view draws loss against lambda from it

    def run(penalty, lam):
        done[(penalty, lam)] = train_setting(penalty=penalty, lam=lam, epochs=max_epochs, marks=marks, seed=seed,
                                             device=device)
        return done[(penalty, lam)]

    def precompute():
        for lam in LAMBDAS:
            yield {"penalty": DEFAULT["penalty"], "lam": lam}, run(DEFAULT["penalty"], lam)

    controls = {
        "penalty": choice_slider("penalty", PENALTIES, DEFAULT["penalty"]),
        "lam": log_slider("lambda", LAMBDAS, DEFAULT["lam"]),
        "epochs": choice_slider("epochs shown", marks, marks[-1]),
    }
    view = PenaltyView(done, zero_at=LAMBDAS[1] / 3)  # lambda = 0 drawn left of the first value
    return SliderPanel(run, controls, view, view_only=("epochs",), precompute=precompute, figsize=(13, 3.8),
                       title="L2 / L1 on digits (300 examples): MLP 2x128, SGD lr 0.05, momentum 0.9")
