"""Chapter 02: one digits run under weight decay (L2) and/or L1, with weight snapshots.

L2 as SGD weight decay on the weights only (Krogh & Hertz, NeurIPS 1991); L1 by subgradient or by the proximal
(soft-threshold) step (Tibshirani, "Regression Shrinkage and Selection via the Lasso", 1996). The FashionMNIST
lambda sweep uses AdamW's decoupled decay (Loshchilov & Hutter, ICLR 2019).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import load_dataset
from ..device import seeded
from ..history import History
from ..models import MLP
from ..sweep import sweep
from ..train import fit
from ..validate import check_choice, check_number
from .stored import read_json

LAMBDAS = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # the strengths each slider offers (weight_decay, l1)
KINDS = ("L2", "L1", "L1-prox")  # the penalties penalty_kwargs names
DEFAULT = dict(weight_decay=1e-3, l1=0.0)


@dataclass(frozen=True)
class PenaltyRun:
    """One chapter-02 run: its History and every weight matrix's entries (flat, CPU) at each marked epoch."""

    history: History
    weights: dict[int, torch.Tensor]


def _weights(model) -> torch.Tensor:
    """Every weight matrix's entries (biases and norm parameters left out), flat, on the CPU."""
    return torch.cat([p.detach().flatten().cpu() for p in model.parameters() if p.ndim >= 2])


def penalty_kwargs(penalty: str, strength: float) -> dict:
    """``train_setting``'s (and ``fit``'s) keyword arguments for one named penalty: ``"L2"`` is ``weight_decay``,
    ``"L1"`` is ``l1`` (``strength * sum|w|`` added to the loss, subgradient steps), ``"L1-prox"`` is ``l1`` with
    ``l1_proximal=True`` (a soft-threshold after each step)."""
    check_choice("penalty", penalty, KINDS)
    check_number("strength", strength)
    if penalty == "L2":
        return {"weight_decay": strength}
    return {"l1": strength, "l1_proximal": penalty == "L1-prox"}


def train_setting(*, weight_decay: float = 0.0, l1: float = 0.0, l1_proximal: bool = False, epochs: int = 60,
                  marks=(), seed: int = 0, device=None, lr: float = 0.05, momentum: float = 0.9,
                  n_train: int = 300) -> PenaltyRun:
    """One digits run (``n_train`` examples, MLP 2x128, SGD, batch 32) with ``fit``'s penalty knobs: SGD weight
    decay on the weights only (``decay="weights"``), and/or L1 of strength ``l1`` (proximal with ``l1_proximal``).

    Returns:
        the History and the weights at each epoch in ``marks``.
    """
    check_number("weight_decay", weight_decay)
    check_number("l1", l1)
    kwargs = dict(weight_decay=weight_decay, l1=l1, l1_proximal=l1_proximal)
    if weight_decay > 0:
        kwargs["decay"] = "weights"
    data = load_dataset("digits", n_train=n_train, seed=seed, device=device)
    snaps = {}

    def snap(epoch, m, hist):
        if epoch in marks:
            snaps[epoch] = _weights(m)

    with seeded(seed, device):
        model = MLP(data.in_features, data.num_classes, width=128, depth=2)
        hist = fit(model, data, optimizer="sgd", epochs=epochs, lr=lr, momentum=momentum, batch_size=32, seed=seed,
                   device=device, progress=False, on_epoch_end=snap, **kwargs)
    return PenaltyRun(hist, snaps)


FASHION_LAMBDAS = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
FASHION_COMMAND = ("python -m regviz.experiments.weight_decay --fashion-sweep "
                   "--out notebooks/results/fashion_lambda_sweep.json")


@dataclass
class LambdaSweep:
    """``fashion_lambda_sweep``'s result: ``histories[i][j]`` is lambda ``lambdas[i]`` with seed ``seeds[j]``."""

    lambdas: list[float]
    seeds: list[int]
    histories: list[list[History]]
    config: dict


def fashion_lambda_sweep(lambdas=FASHION_LAMBDAS, *, seeds=(0, 1, 2), n_train: int = 1000, n_val: int = 2000,
                         label_noise: float = 0.2, width: int = 256, depth: int = 2, epochs: int = 60,
                         lr: float = 1e-3, batch_size: int = 64, device=None, data_seed: int = 0) -> LambdaSweep:
    """An MLP on a FashionMNIST subset under AdamW's decoupled weight decay, for each lambda and seed.

    Each lambda trains ``len(seeds)`` MLPs as one stacked model (``sweep(knob="seed")``); every seed sees the same
    ``n_train`` images (drawn with ``data_seed``, ``label_noise`` of their labels flipped) and is judged on the
    same first ``n_val`` test images (clean labels).

    Returns:
        a ``LambdaSweep`` (``histories[i][j]``: lambda i, seed j).
    """
    lambdas = [float(v) for v in lambdas]
    for v in lambdas:
        check_number("weight_decay", v)
    data = load_dataset("fashion_mnist", n_train=n_train, n_val=n_val, label_noise=label_noise, seed=data_seed,
                        device=device)
    make = lambda: MLP(data.in_features, data.num_classes, width=width, depth=depth)  # noqa: E731
    hists = [sweep(make, data, knob="seed", values=list(seeds), optimizer="adamw", weight_decay=lam, epochs=epochs,
                   lr=lr, batch_size=batch_size, device=device, progress=False) for lam in lambdas]
    return LambdaSweep(lambdas, list(seeds), [list(hs) for hs in hists],
                       dict(n_train=n_train, n_val=n_val, label_noise=label_noise, width=width, depth=depth,
                            epochs=epochs, lr=lr, batch_size=batch_size, optimizer="adamw", data_seed=data_seed))


def per_seed(result: LambdaSweep, metric: str = "val_acc", at: str = "final") -> list[list[float]]:
    """One list per lambda of ``metric`` per seed, at the ``"final"`` epoch or the ``"best"`` (lowest val loss)."""
    check_choice("at", at, ("final", "best"))
    return [[getattr(h, metric)[(h.best_epoch - 1) if at == "best" else -1] for h in hs]
            for hs in result.histories]


def save_fashion_sweep(result: LambdaSweep, path: str | Path, **extra) -> None:
    """Write ``fashion_lambda_sweep``'s result as JSON (Histories as dicts; ``extra`` goes into ``config``)."""
    out = dict(lambdas=result.lambdas, seeds=result.seeds,
               histories=[[h.to_dict() for h in hs] for hs in result.histories], config={**result.config, **extra})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(out, indent=1))


def load_fashion_sweep(path: str | Path) -> LambdaSweep:
    """A stored ``fashion_lambda_sweep`` result, Histories restored."""
    d = read_json(path)
    return LambdaSweep(d["lambdas"], d["seeds"], [[History.from_dict(h) for h in hs] for hs in d["histories"]],
                       d["config"])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="chapter 02's stored runs")
    ap.add_argument("--fashion-sweep", action="store_true", help="the FashionMNIST lambda x seed sweep")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    args = ap.parse_args(argv)
    if not args.fashion_sweep:
        ap.error("nothing to do: pass --fashion-sweep")
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    t = time.perf_counter()
    result = fashion_lambda_sweep(device=args.device)
    save_fashion_sweep(result, args.out, command=FASHION_COMMAND, wall_s=round(time.perf_counter() - t, 1),
                       threads=torch.get_num_threads(), torch=torch.__version__)
    print(f"wrote {args.out} ({round(time.perf_counter() - t, 1)} s)")


if __name__ == "__main__":
    main()
