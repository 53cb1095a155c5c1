"""Chapter 01: a digits MLP at one width, training-set size and label noise; the panel's grid of such runs."""
from __future__ import annotations

from typing import Iterator

from ..data import load_dataset
from ..device import seeded
from ..history import History
from ..models import MLP
from ..train import fit
from ..validate import check_choice, check_int, check_number

WIDTHS = (8, 32, 128, 256)
N_TRAIN = (50, 100, 200, 400)
NOISE = (0.0, 0.1, 0.2, 0.4)
DEFAULT = dict(width=256, n_train=100, label_noise=0.0)


def train_setting(*, width: int, n_train: int, label_noise: float, epochs: int = 60, seed: int = 0,
                  device=None, lr: float = 3e-3) -> History:
    """One digits MLP run (depth 2, AdamW, batch 64).

    Returns:
        its History (``config`` names width, n_train, label_noise and every training knob).
    """
    check_int("width", width)
    check_int("n_train", n_train)
    check_number("label_noise", label_noise, high=1.0, high_inclusive=False)
    data = load_dataset("digits", n_train=n_train, label_noise=label_noise, seed=seed, device=device)
    with seeded(seed, device):
        model = MLP(data.in_features, data.num_classes, width=width, depth=2)
        return fit(model, data, epochs=epochs, lr=lr, batch_size=64, seed=seed, device=device, progress=False)


def one_slider_away(default: dict = DEFAULT) -> Iterator[dict]:
    """The default setting, then every setting that differs from it in one slider (the panel's precomputed grid)."""
    yield dict(default)
    for name, values in (("width", WIDTHS), ("n_train", N_TRAIN), ("label_noise", NOISE)):
        check_choice(name, default[name], values)
        yield from ({**default, name: v} for v in values if v != default[name])
