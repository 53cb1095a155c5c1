"""Chapter 05 panel: mixup / CutMix alpha -> lambda histogram, mixed previews, accuracy and calibration."""
from __future__ import annotations

from ..experiments.augmentation import ALPHAS, DEFAULT, METHODS, panel_setting
from ..views.augmentation import MixingView
from ..widgets import SliderPanel, choice_slider


def panel(*, fast: bool = False, device=None, seed: int = 0) -> SliderPanel:
    """The chapter-05 panel. Opening it trains mixup at every alpha (one small MLP each, about a second apiece on
    a 2-core CPU); CutMix settings train on demand (about a second) and are cached."""
    epochs = 25 if fast else 30

    def run(method, alpha):
        return panel_setting(method=method, alpha=alpha, epochs=epochs, seed=seed, device=device)

    def precompute():
        for a in ALPHAS:
            res = run("mixup", a)
            yield {"method": "mixup", "alpha": a}, res
            if a == 0:  # no mixing: the same plain run (and the same originals) under either method
                yield {"method": "cutmix", "alpha": 0.0}, res

    controls = {
        "method": choice_slider("method", METHODS, DEFAULT["method"]),
        "alpha": choice_slider("alpha", ALPHAS, DEFAULT["alpha"]),
    }
    return SliderPanel(run, controls, MixingView(), precompute=precompute,
                       title="Mixup and CutMix on digits: a 256x2 MLP trained on 300 images", figsize=(13, 4))
