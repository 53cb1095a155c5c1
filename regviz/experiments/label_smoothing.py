"""Chapter 04: one MNIST-1D MLP trained with label smoothing, its validation logits after every epoch, and the
temperature that calibrates them; accuracy, NLL, ECE and temperature scaling over seeds (MNIST-1D, FashionMNIST).

Szegedy et al., "Rethinking the Inception Architecture" (CVPR 2016); Müller, Kornblith & Hinton, "When Does
Label Smoothing Help?" (NeurIPS 2019); Guo et al., "On Calibration of Modern Neural Networks" (ICML 2017).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..calibration import temperature_held_out
from ..data import load_dataset
from ..device import seeded
from ..history import History
from ..layers import eval_mode
from ..metrics import expected_calibration_error, negative_log_likelihood
from ..models import MLP
from ..stats import difference, summarize
from ..sweep import StackedMLP
from ..train import fit
from ..validate import check_number
from .recording import fit_recording

EPS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
NOISE = (0.0, 0.2)
DEFAULT = dict(label_smoothing=0.1, label_noise=0.0)


@dataclass(frozen=True)
class SmoothingRun:
    """One chapter-04 run: History, validation ``logits`` (epochs, N_val, K) after every epoch, labels ``y``, and
    ``temperature`` {epoch: ``temperature_held_out`` result} for each marked epoch."""

    history: History
    logits: torch.Tensor
    y: torch.Tensor
    temperature: dict


def train_setting(*, label_smoothing: float, label_noise: float, epochs: int = 30, marks=(), n_train: int = 1000,
                  seed: int = 0, device=None, lr: float = 3e-3) -> SmoothingRun:
    """One MNIST-1D MLP run (128 x 2, AdamW, batch 64) with ``label_smoothing``.

    Args:
        marks: epochs at which to calibrate by temperature (``temperature_held_out``: T fitted on the first half of
            validation, judged on the other half).

    Returns:
        the run (see ``SmoothingRun``).
    """
    check_number("label_smoothing", label_smoothing, high=1.0, high_inclusive=False)
    data = load_dataset("mnist1d", n_train=n_train, label_noise=label_noise, seed=seed, device=device)
    with seeded(seed, device):
        model = MLP(data.in_features, data.num_classes, width=128, depth=2)
        hist, logits = fit_recording(model, data, label_smoothing=label_smoothing, epochs=epochs, lr=lr,
                                     batch_size=64, seed=seed, device=device, progress=False)
    logits, y = torch.stack(logits), data.y_val.cpu()
    temps = {e: temperature_held_out(logits[e - 1], y) for e in marks if 1 <= e <= len(logits)}
    return SmoothingRun(hist, logits, y, temps)


@dataclass(frozen=True)
class SeedScores:
    """One smoothing strength over seeds: a History per seed, the final validation logits (K, N_val, C) on the CPU,
    and one dict of scores per seed (see ``calibration_over_seeds``)."""

    histories: list[History]
    logits: torch.Tensor
    scores: list[dict[str, float]]


@dataclass(frozen=True)
class CalibrationRuns:
    """``calibration_over_seeds``'s result: the validation labels ``y`` (N_val,) and a ``SeedScores`` per eps."""

    y: torch.Tensor
    runs: dict[float, SeedScores]


def calibration_over_seeds(name: str = "fashion_mnist", *, label_smoothing=(0.0, 0.1), seeds=(0, 1, 2),
                           n_train: int = 4000, n_val: int | None = 2000, label_noise: float = 0.0, epochs: int = 30,
                           width: int = 512, lr: float = 1e-3, batch_size: int = 100, data_seed: int = 0,
                           device=None) -> CalibrationRuns:
    """Label smoothing's effect on calibration over seeds (Müller, Kornblith & Hinton 2019): for each strength in
    ``label_smoothing``, one
    MLP (in-width-width-10, AdamW) per seed, trained as one stacked model, then scored on the validation set.

    Args:
        name: a ``load_dataset`` name (``"fashion_mnist"``, ``"mnist1d"`` ...); the training subset is fixed by
            ``data_seed``, the seeds set initialisation and shuffling.
        n_val: validation size (None: the dataset's default). label_noise: fraction of training labels flipped.
        label_smoothing: the smoothing strengths (eps) to compare.

    Returns:
        a ``CalibrationRuns``: the validation labels and, per eps, a ``SeedScores``; each score dict holds ``acc``,
        ``nll`` (plain, unsmoothed), ``ece`` (15 bins), ``conf`` (mean top-1 confidence) on the whole validation
        set, and ``T``, ``ece_before``/``ece_after``, ``nll_before``/``nll_after`` from ``temperature_held_out``
        (T fitted on the first half of validation, judged on the second).
    """
    data = load_dataset(name, n_train=n_train, n_val=n_val, label_noise=label_noise, seed=data_seed, device=device)
    y = data.y_val.cpu()
    runs = {}
    for eps in label_smoothing:
        check_number("label_smoothing", eps, high=1.0, high_inclusive=False)
        models = []
        for s in seeds:
            with seeded(s, device):
                models.append(MLP(data.in_features, data.num_classes, width=width, depth=2))
        stacked = StackedMLP(models).to(data.device)
        hists = fit(stacked, data, epochs=epochs, lr=lr, batch_size=batch_size, label_smoothing=eps, seed=list(seeds),
                    device=device, progress=False, n_eval_train=min(1000, n_train))
        X = data.X_val.unsqueeze(0).expand(len(seeds), *data.X_val.shape)  # (K, N, ...): every model sees all of it
        logits = _stacked_logits(stacked, X)  # (K, N_val, C)
        scores = []
        for lo in logits:
            probs = lo.softmax(-1)
            cal = temperature_held_out(lo, y)
            scores.append({"acc": float((probs.argmax(-1) == y).float().mean()), "nll": negative_log_likelihood(probs, y),
                           "ece": expected_calibration_error(probs, y, 15), "conf": float(probs.max(-1).values.mean()),
                           "T": cal["T"], "ece_before": expected_calibration_error(cal["before"], cal["y"], 15),
                           "ece_after": expected_calibration_error(cal["after"], cal["y"], 15),
                           "nll_before": negative_log_likelihood(cal["before"], cal["y"]),
                           "nll_after": negative_log_likelihood(cal["after"], cal["y"])})
        runs[eps] = SeedScores(list(hists), logits, scores)
    return CalibrationRuns(y, runs)


@torch.no_grad()
def _stacked_logits(stacked, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """(K, N, C) logits of a stacked model on (K, N, ...) inputs, in eval mode, on the CPU."""
    with eval_mode(stacked):
        return torch.cat([stacked(X[:, i:i + batch_size]) for i in range(0, X.shape[1], batch_size)], dim=1).float().cpu()


SCORES = {"acc": "val accuracy", "nll": "val NLL", "ece": "val ECE (15 bins)", "conf": "mean confidence"}


def calibration_table(result: CalibrationRuns, *, keys=("acc", "nll", "ece", "conf"), baseline: float = 0.0) -> str:
    """``calibration_over_seeds``'s scores as text: per metric, each eps's mean ± sd over seeds and, for eps other
    than ``baseline``, the difference from it with its 2-SE verdict (``regviz.stats.difference``)."""
    runs, lines = result.runs, []
    for key in keys:
        ref = [s[key] for s in runs[baseline].scores]
        for eps, r in runs.items():
            vals = [s[key] for s in r.scores]
            diff = "" if eps == baseline else f"   vs eps={baseline:g}: {difference(vals, ref)}"
            lines.append(f"{SCORES.get(key, key):18s} eps={eps:<4g} {summarize(vals)}{diff}")
    return "\n".join(lines)
