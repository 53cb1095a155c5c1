"""Capacity experiments: width sweeps of trained MLPs and of random-features models (double descent).

Double descent: Belkin et al., "Reconciling modern machine-learning practice and the classical bias-variance
trade-off", PNAS 2019 (random features); Nakkiran et al., "Deep Double Descent", ICLR 2020 (trained networks).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from ..data import Dataset
from ..device import seeded
from ..history import History
from ..models import MLP
from ..train import fit
from ..validate import check_int
from .stored import read_json


def _check_widths(widths: Sequence[int]) -> list[int]:
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__") or len(widths) == 0:
        raise ValueError(f"widths={widths!r} must be a non-empty sequence of ints >= 1")
    return [check_int("width", w) for w in widths]


def width_sweep(data: Dataset, widths: Sequence[int], *, depth: int = 1, epochs: int = 100, lr: float = 1e-3,
                batch_size: int = 64, seed: int = 0, device=None, progress: bool = True) -> list[History]:
    """Train one MLP per width (same seed, same data); the caller's global RNG state is left as it was.

    Args:
        data: a ``Dataset``.  widths: hidden units per layer, one MLP each.  depth: hidden layers.
        epochs, lr, batch_size, device: passed to ``fit``.  seed: initial weights and the run of each model.

    Returns:
        One ``History`` per width, in order, with ``config["width"]`` set.
    """
    widths = _check_widths(widths)
    hists = []
    it = widths
    if progress:
        from ..progress import progress_bar  # closing it leaves "width sweep: 8/8 ..." in a saved notebook
        it = progress_bar(widths, desc="width sweep", unit="width")
    for w in it:
        with seeded(seed, device):  # same initial draw for every width; the caller's generator is untouched
            model = MLP(data.in_features, data.num_classes, width=w, depth=depth)
            h = fit(model, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device,
                    progress=False)
        h.config["width"] = w
        hists.append(h)
    return hists


@dataclass
class WidthSweep:
    """A stored ``width_sweep`` (chapter 01's trained double-descent run): the ``widths``, the data setting and
    training length, one ``History`` per width, and the wall time."""

    widths: list[int]
    n_train: int
    label_noise: float
    epochs: int
    histories: list[History]
    seconds: float | None = None


def save_width_sweep(result: WidthSweep, path: str | Path) -> None:
    """Write a ``WidthSweep`` as JSON (Histories as dicts; what ``load_width_sweep`` reads)."""
    out = dict(widths=result.widths, n_train=result.n_train, label_noise=result.label_noise, epochs=result.epochs,
               **({} if result.seconds is None else {"seconds": result.seconds}),
               histories=[h.to_dict() for h in result.histories])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(out))


def load_width_sweep(path: str | Path) -> WidthSweep:
    """Read what ``save_width_sweep`` wrote, Histories restored."""
    d = read_json(path)
    return WidthSweep(d["widths"], d["n_train"], d["label_noise"], d["epochs"],
                      [History.from_dict(h) for h in d["histories"]], d.get("seconds"))


@dataclass
class RandomFeatures:
    """``random_features_sweep``'s result: one entry per width in each list (squared error and classification
    error on the training and validation sets, norm of the fitted last layer)."""

    width: list[int] = field(default_factory=list)
    train_mse: list[float] = field(default_factory=list)
    val_mse: list[float] = field(default_factory=list)
    train_err: list[float] = field(default_factory=list)
    val_err: list[float] = field(default_factory=list)
    weight_norm: list[float] = field(default_factory=list)


def _min_norm_lstsq(P: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """pinv(P) @ Y through the smaller Gram matrix (pinv itself is ~100x slower on CPU here).

    Args:
        P: (N, w) features.  Y: (N, K) targets.
    Returns:
        (w, K): the least-squares solution of smallest norm.
    """
    n, w = P.shape
    if w >= n:  # under-determined: beta = P^T (P P^T)^+ Y
        return P.T @ torch.linalg.lstsq(P @ P.T, Y, driver="gelsd").solution
    return torch.linalg.lstsq(P.T @ P, P.T @ Y, driver="gelsd").solution  # over-determined: normal equations


@torch.no_grad()
def random_features_sweep(data: Dataset, widths: Sequence[int], *, seed: int = 0) -> RandomFeatures:
    """Two-layer ReLU network with a frozen random first layer; the last layer is the minimum-norm
    least-squares fit to one-hot targets (what gradient descent from zero converges to).

    Args:
        data: any Dataset (inputs are flattened and standardised with training statistics).
        widths: numbers of random ReLU features (nested: width w uses the first w of the largest draw).
        seed: seeds a private generator for the random first layer.

    Returns:
        a ``RandomFeatures``, one entry per width in each list. The interpolation threshold is at width == number of
        training examples.
    """
    widths = _check_widths(widths)
    g = torch.Generator().manual_seed(seed)
    Xtr, Xva = data.X_train.flatten(1).double().cpu(), data.X_val.flatten(1).double().cpu()
    mu, sd = Xtr.mean(0), Xtr.std(0).clamp_min(1e-8)
    Xtr, Xva = (Xtr - mu) / sd, (Xva - mu) / sd
    Ytr = F.one_hot(data.y_train.cpu(), data.num_classes).double()
    Yva = F.one_hot(data.y_val.cpu(), data.num_classes).double()
    d = Xtr.shape[1]
    W_all = torch.randn(d, max(widths), generator=g, dtype=torch.float64) / d ** 0.5
    b_all = torch.randn(max(widths), generator=g, dtype=torch.float64) * 0.1
    out = RandomFeatures()
    for w in widths:
        W, b = W_all[:, :w], b_all[:w]  # nested features: width w uses the first w of them
        Ptr, Pva = torch.relu(Xtr @ W + b), torch.relu(Xva @ W + b)  # (N, w)
        beta = _min_norm_lstsq(Ptr, Ytr)  # (w, K)
        ztr, zva = Ptr @ beta, Pva @ beta
        out.width.append(w)
        out.train_mse.append(float(((ztr - Ytr) ** 2).sum(1).mean()))
        out.val_mse.append(float(((zva - Yva) ** 2).sum(1).mean()))
        out.train_err.append(float((ztr.argmax(1) != data.y_train.cpu()).double().mean()))
        out.val_err.append(float((zva.argmax(1) != data.y_val.cpu()).double().mean()))
        out.weight_norm.append(float(beta.norm()))
    return out
