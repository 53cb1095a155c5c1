"""Chapter 06 panel: where early stopping would stop, for every patience, replayed from one stored run.

Prechelt, "Early Stopping - But When?", in Neural Networks: Tricks of the Trade (Springer, 1998).
"""
from __future__ import annotations

from ..experiments.early_stopping import LABEL_NOISE, MIN_DELTAS, PATIENCES, replayed_run
from ..views.early_stopping import StoppingView
from ..widgets import SliderPanel, choice_slider


def panel(*, fast: bool = False, device=None, seed: int = 0) -> SliderPanel:
    """Patience and min_delta sliders replay a stored run (no retraining); the label-noise slider retrains."""
    controls = {"label_noise": choice_slider("label_noise", LABEL_NOISE, 0.2),
                "patience": choice_slider("patience", PATIENCES, 5),
                "min_delta": choice_slider("min_delta", MIN_DELTAS, 0.0)}

    def run(label_noise):
        return replayed_run(label_noise=label_noise, fast=fast, device=device, seed=seed)

    return SliderPanel(run, controls, StoppingView(), view_only=("patience", "min_delta"),
                       title="Early stopping: where it stops, and which weights it restores")
