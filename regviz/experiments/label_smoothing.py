"""Chapter 04: one MNIST-1D MLP trained with label smoothing eps, its validation logits after every epoch, and the
temperature that calibrates them.

Szegedy et al., "Rethinking the Inception Architecture" (CVPR 2016); Müller, Kornblith & Hinton, "When Does
Label Smoothing Help?" (NeurIPS 2019); Guo et al., "On Calibration of Modern Neural Networks" (ICML 2017).
"""
from __future__ import annotations

import torch

from ..calibration import fit_recording, temperature_held_out
from ..data import load_dataset
from ..device import seeded
from ..models import MLP
from ..validate import check_number

EPS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
NOISE = (0.0, 0.2)
DEFAULT = dict(eps=0.1, label_noise=0.0)


def train_setting(*, eps: float, label_noise: float, epochs: int = 30, marks=(), n_train: int = 1000,
                  seed: int = 0, device=None, lr: float = 3e-3) -> dict:
    """One MNIST-1D MLP run (128 x 2, AdamW, batch 64) with smoothing ``eps``.

    Args:
        marks: epochs at which to calibrate by temperature (``temperature_held_out``: T fitted on the first half of
            validation, judged on the other half).

    Returns:
        ``{"hist": History, "logits": (epochs, N_val, K) validation logits per epoch, "y": (N_val,) labels,
        "temperature": {epoch: temperature_held_out(...)} for each epoch in marks}``.
    """
    check_number("eps", eps, high=1.0, high_inclusive=False)
    data = load_dataset("mnist1d", n_train=n_train, label_noise=label_noise, seed=seed, device=device)
    with seeded(seed, device):
        model = MLP(data.in_features, data.num_classes, width=128, depth=2)
        hist, logits = fit_recording(model, data, eps=eps, epochs=epochs, lr=lr, batch_size=64, seed=seed,
                                     device=device, progress=False)
    logits, y = torch.stack(logits), data.y_val.cpu()
    temps = {e: temperature_held_out(logits[e - 1], y) for e in marks if 1 <= e <= len(logits)}
    return {"hist": hist, "logits": logits, "y": y, "temperature": temps}
