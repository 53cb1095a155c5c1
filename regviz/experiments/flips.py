"""Chapter 05: which flips preserve a FashionMNIST label. A horizontal flip leaves a shirt a shirt; a vertical flip
stands a shoe on its laces, so an upright-trained CNN misreads it and training on such flips costs accuracy."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..augment import BatchAugment
from ..data import load_dataset
from ..device import seeded
from ..train import fit
from ..validate import check_choice, check_number
from .augmentation import fashion_cnn


class VerticalFlip:
    """Flip each image upside down with probability ``p`` (per image, batched): a ``batch_transform`` for ``fit``.

    Wrong for clothing photographed upright: it makes shoes stand on their laces (see the chapter)."""

    def __init__(self, p: float = 0.5):
        check_number("p", p, high=1.0)
        self.p = p
        self.config = {"name": "vertical_flip", "p": p}

    def __call__(self, X: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None):
        on = (torch.rand(X.shape[0], generator=generator) < self.p).to(X.device).view(-1, 1, 1, 1)
        return torch.where(on, X.flip(-2), X), y  # (N, C, H, W), input unchanged


FLIPS = ("none", "horizontal", "vertical")


@dataclass(frozen=True)
class FlipRun:
    """One ``flip_run``: the flip trained with, the seed, and its validation scores."""

    flip: str
    seed: int
    best_val_acc: float
    final_val_acc: float
    best_val_loss: float
    seconds: float


def flip_run(flip: str, *, n_train: int = 500, seed: int = 0, steps: int = 150, n_val: int = 1000,
             device=None) -> FlipRun:
    """One FashionMNIST CNN run trained with no flip, random horizontal flips or random vertical flips (p = 1/2),
    ``steps`` optimiser steps (batch 64, AdamW, lr 2e-3)."""
    check_choice("flip", flip, FLIPS)
    data = load_dataset("fashion_mnist", n_train=n_train, n_val=n_val, seed=seed, device=device)
    bt = {"none": None, "horizontal": BatchAugment(degrees=0.0, shift=0.0, scale=0.0, flip=True),
          "vertical": VerticalFlip(0.5)}[flip]
    epochs = max(3, math.ceil(steps / math.ceil(n_train / 64)))
    with seeded(seed, device):
        model = fashion_cnn(data)
    h = fit(model, data, epochs=epochs, lr=2e-3, batch_size=64, seed=seed, device=device, progress=False,
            batch_transform=bt, n_eval_train=250)
    return FlipRun(flip, seed, max(h.val_acc), h.val_acc[-1], min(h.val_loss), round(h.seconds, 1))


def turned(X: torch.Tensor, how: str) -> torch.Tensor:
    """``X`` (N, C, H, W) as is, flipped left-right, flipped upside down, or rotated by 180 degrees."""
    ops = {"upright": lambda t: t, "horizontal flip": lambda t: t.flip(-1), "vertical flip": lambda t: t.flip(-2),
           "rotate 180": lambda t: t.flip(-2, -1)}
    check_choice("how", how, tuple(ops))
    return ops[how](X)


def accuracy_when_turned(model: torch.nn.Module, data, classes: list[str],
                         hows=("upright", "horizontal flip", "vertical flip", "rotate 180")) -> dict:
    """Validation accuracy of a trained ``model`` on the images of each class in ``classes``, turned each way.

    Returns:
        ``{how: {class_name: accuracy}}``.
    """
    out = {}
    model.eval()
    with torch.no_grad():
        for how in hows:
            out[how] = {}
            for name in classes:
                k = data.class_names.index(name)
                Xk = data.X_val[data.y_val == k]
                pred = model(turned(Xk, how)).argmax(1)
                out[how][name] = float((pred == k).float().mean())
    return out
