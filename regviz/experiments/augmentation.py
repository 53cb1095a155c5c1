"""Chapter 05: one digits MLP trained with mixup or CutMix at one alpha, with what the panel shows beside it
(draws of the mixing weight lambda and a few mixed images); and the FashionMNIST CNN grids the chapter stores
(augmentation vs training-set size; plain vs mixup vs CutMix).

Zhang et al., "mixup: Beyond Empirical Risk Minimization" (ICLR 2018); Yun et al., "CutMix" (ICCV 2019).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..augment import BatchAugment
from ..data import load_dataset
from ..device import seeded
from ..history import History
from ..mixing import cutmix, mixing_transform, mixup
from ..models import CNN, MLP
from ..train import fit
from ..validate import check_choice, check_number
from .recording import fit_recording
from .stored import read_json, record, rows

ALPHAS = (0.0, 0.1, 0.2, 0.4, 1.0, 2.0)  # 0 = no mixing
METHODS = ("mixup", "cutmix")
DEFAULT = dict(method="mixup", alpha=0.4)


@dataclass(frozen=True)
class MixingRun:
    """One chapter-05 run: History, final validation ``logits`` (N_val, K), labels ``y``; for the panel also
    ``lambdas`` (draws of the mixing weight) and ``preview`` ``(X, captions)``."""

    history: History
    logits: torch.Tensor
    y: torch.Tensor
    lambdas: torch.Tensor | None = None
    preview: tuple | None = None


def train_setting(*, method: str, alpha: float, epochs: int = 40, n_train: int = 300, seed: int = 0,
                  device=None, lr: float = 3e-3) -> MixingRun:
    """One digits MLP run (256 x 2, AdamW, batch 64) with mixup or CutMix at ``alpha`` (0: plain training).
    ``History.config`` records ``method`` and ``alpha`` (and, for alpha > 0, the ``batch_transform``)."""
    check_choice("method", method, METHODS)
    check_number("alpha", alpha)
    data = load_dataset("digits", n_train=n_train, seed=seed, device=device)
    bt = mixing_transform(method, alpha, data.num_classes) if alpha > 0 else None
    with seeded(seed, device):
        model = MLP(data.in_features, data.num_classes, width=256, depth=2)
        hist, logits = fit_recording(model, data, epochs=epochs, lr=lr, batch_size=64, seed=seed, device=device,
                                     progress=False, batch_transform=bt)
    hist.config.update(method=method, alpha=float(alpha))  # also for alpha = 0, where no transform records them
    return MixingRun(hist, logits[-1], data.y_val.cpu())


def lambda_samples(alpha: float, n: int = 2000, seed: int = 0) -> torch.Tensor:
    """n draws of lambda ~ Beta(alpha, alpha) (all ones for alpha = 0: no mixing)."""
    check_number("alpha", alpha)
    if alpha == 0:
        return torch.ones(n)
    with seeded(seed):  # a private stream: the global generator is left as it was
        return torch.distributions.Beta(float(alpha), float(alpha)).sample((n,))


def preview(method: str, alpha: float, n: int = 8, seed: int = 0):
    """n mixed validation digits and a caption each ("a:0.70 b:0.30"), drawn with a fixed generator."""
    check_choice("method", method, METHODS)
    data = load_dataset("digits", n_train=50, n_val=n, device="cpu")
    X, y = data.X_val, data.y_val
    if alpha == 0:
        return X, [f"{int(k)}" for k in y]
    fn = mixup if method == "mixup" else cutmix
    Xm, t = fn(X, y, alpha, 10, generator=torch.Generator().manual_seed(seed))
    caps = []
    for row in t:
        top = row.topk(2)
        caps.append(" ".join(f"{int(c)}:{float(w):.2f}" for w, c in zip(top.values, top.indices) if w > 0.005))
    return Xm, caps


def panel_setting(*, method: str, alpha: float, epochs: int = 40, seed: int = 0, device=None) -> MixingRun:
    """``train_setting`` plus the panel's side pictures: ``lambdas`` (2,000 draws) and ``preview`` ``(X, captions)``.

    alpha = 0 is the same plain run for both methods (trained as mixup)."""
    run_method = METHODS[0] if alpha == 0 else method
    res = train_setting(method=run_method, alpha=alpha, epochs=epochs, seed=seed, device=device)
    return replace(res, lambdas=lambda_samples(alpha), preview=preview(method, alpha))


# ---------------------------------------------------------------- FashionMNIST grids (stored under notebooks/results)
# Regenerate: python -m regviz.experiments.augmentation --out notebooks/results/augmentation_fashion.json
# (the 400-step grid the chapter contrasts it with: --steps 400 --mix-epochs 40 --sizes 100,250,1000 --n-val 500)

SIZES = (250, 1000, 4000)
STEPS = 2000  # optimiser steps per run: augmented and mixed training need several times what plain training needs
MIX_EPOCHS = 250  # 500 images, batch 64: 2,000 steps
SEEDS = (0, 1, 2)
CNN_SETTINGS = dict(channels=8, hidden=64)  # a small two-conv CNN with a flatten head (regviz.CNN)


def fashion_augment() -> BatchAugment:
    """Label-preserving augmentation for clothing, per image, batched: a horizontal flip (p = 1/2), a random
    shift of up to 2 px each way (what ``RandomCrop(28, padding=2)`` does, here sub-pixel) and random erasing
    (Zhong et al. 2020; p = 0.5, 2-15 % of the image)."""
    return BatchAugment(degrees=0.0, shift=2.0, scale=0.0, flip=True, erase_p=0.5, erase_area=(0.02, 0.15))


def fashion_cnn(data) -> CNN:
    """The chapter's FashionMNIST CNN (``CNN_SETTINGS``) for ``data``'s image shape and classes."""
    return CNN(tuple(data.X_train.shape[1:]), data.num_classes, **CNN_SETTINGS)


@dataclass(frozen=True)
class SizeRun:
    """One ``size_run``: its setting (``n_train``, ``augment``, ``seed``, ``epochs``) and scores
    (``final_train_acc`` on un-augmented training images)."""

    n_train: int
    augment: bool
    seed: int
    epochs: int
    best_val_acc: float
    final_val_acc: float
    best_val_loss: float
    final_val_loss: float
    final_train_acc: float
    seconds: float


@dataclass(frozen=True)
class MixingScores:
    """One ``mixing_run``: ``method`` ("plain", "mixup", "cutmix"), ``alpha``, ``seed``, and its scores
    (NLL, ECE and mean confidence on the validation images)."""

    method: str
    alpha: float
    seed: int
    best_val_acc: float
    final_val_acc: float
    best_val_nll: float
    final_val_nll: float
    final_val_ece: float
    final_val_conf: float
    final_train_acc: float
    seconds: float


@dataclass
class FashionGrids:
    """``fashion_grids``' result: the ``config``, one ``SizeRun`` per (size, seed, augment), one ``MixingScores``
    per (setting, seed), the wall time, and (stored grids) the ``command`` that made it."""

    config: dict
    sizes: list[SizeRun]
    mixing: list[MixingScores]
    seconds: float = 0.0
    command: str = ""


def size_run(n_train: int, *, augment: bool, seed: int = 0, steps: int = 400, n_val: int = 500,
             device=None) -> SizeRun:
    """One FashionMNIST CNN run with or without ``fashion_augment()``, ``steps`` optimiser steps (batch 64,
    AdamW, lr 2e-3) whatever ``n_train`` is, so small sets are not under-trained."""
    check_number("n_train", n_train)
    data = load_dataset("fashion_mnist", n_train=n_train, n_val=n_val, seed=seed, device=device)
    epochs = max(5, math.ceil(steps / math.ceil(n_train / 64)))
    with seeded(seed, device):
        model = fashion_cnn(data)
    h = fit(model, data, epochs=epochs, lr=2e-3, batch_size=64, seed=seed, device=device, progress=False,
            batch_transform=fashion_augment() if augment else None, n_eval_train=100)
    return SizeRun(n_train, augment, seed, epochs, max(h.val_acc), h.val_acc[-1], min(h.val_loss), h.val_loss[-1],
                   h.train_acc[-1], round(h.seconds, 1))


def mixing_run(method: str, alpha: float, *, n_train: int = 500, epochs: int = 40, seed: int = 0,
               n_val: int = 500, device=None) -> MixingScores:
    """One FashionMNIST CNN run with mixup / CutMix at ``alpha`` (``method="plain"``: no mixing), trained long
    enough that the plain model overfits. Calibration is recorded every epoch (``fit_recording``)."""
    check_choice("method", method, ("plain",) + METHODS)
    data = load_dataset("fashion_mnist", n_train=n_train, n_val=n_val, seed=seed, device=device)
    bt = None if method == "plain" else mixing_transform(method, alpha, data.num_classes)
    with seeded(seed, device):
        model = fashion_cnn(data)
    h, _ = fit_recording(model, data, epochs=epochs, lr=2e-3, batch_size=64, seed=seed, device=device,
                         progress=False, batch_transform=bt, n_eval_train=100)
    ex = h.extra
    return MixingScores(method, float(alpha), seed, max(h.val_acc), h.val_acc[-1], min(ex["val_nll"]),
                        ex["val_nll"][-1], ex["val_ece"][-1], ex["val_conf"][-1], h.train_acc[-1],
                        round(h.seconds, 1))


MIXING_SETTINGS = (("plain", 0.0), ("mixup", 1.0), ("cutmix", 1.0))  # the papers' CIFAR alphas


def fashion_grids(*, sizes=SIZES, seeds=SEEDS, steps: int = STEPS, mix_n_train: int = 500,
                  mix_epochs: int = MIX_EPOCHS, n_val: int = 1000, device=None, log=print) -> FashionGrids:
    """Both chapter-05 FashionMNIST grids: augmentation vs ``n_train`` and the mixing comparison."""
    t0 = time.perf_counter()
    out = FashionGrids(dict(sizes=list(sizes), seeds=list(seeds), steps=steps, mix_n_train=mix_n_train,
                            mix_epochs=mix_epochs, n_val=n_val, cnn=CNN_SETTINGS, augment=repr(fashion_augment()),
                            mixing=[list(m) for m in MIXING_SETTINGS]), [], [])
    for n in sizes:
        for seed in seeds:
            for aug in (False, True):
                r = size_run(n, augment=aug, seed=seed, steps=steps, n_val=n_val, device=device)
                out.sizes.append(r)
                if log:
                    log(f"n={n} aug={aug} seed={seed}: best val acc {r.best_val_acc:.3f} ({r.seconds} s)")
    for method, alpha in MIXING_SETTINGS:
        for seed in seeds:
            r = mixing_run(method, alpha, n_train=mix_n_train, epochs=mix_epochs, seed=seed, n_val=n_val,
                           device=device)
            out.mixing.append(r)
            if log:
                log(f"{method} a={alpha} seed={seed}: best acc {r.best_val_acc:.3f} final NLL "
                    f"{r.final_val_nll:.3f} ECE {r.final_val_ece:.3f} ({r.seconds} s)")
    out.seconds = round(time.perf_counter() - t0, 1)
    return out


def by_setting(runs, key: str, metric: str) -> dict:
    """Group stored runs: ``{setting: [metric per seed]}``, ``setting`` the run's field ``key`` (a tuple of fields
    for ``key="a,b"``), in the order the runs come."""
    keys = key.split(",")
    groups: dict = {}
    for r in runs:
        k = tuple(getattr(r, c) for c in keys) if len(keys) > 1 else getattr(r, key)
        groups.setdefault(k, []).append(getattr(r, metric))
    return groups


def save_results(result: FashionGrids, path) -> None:
    """Write a ``fashion_grids`` result as JSON (what ``load_results`` reads)."""
    out = dict(config=result.config, sizes=[record(r) for r in result.sizes],
               mixing=[record(r) for r in result.mixing], seconds=result.seconds, command=result.command)
    Path(path).write_text(json.dumps(out, indent=1))


def load_results(path) -> FashionGrids:
    """Read a stored ``fashion_grids`` result (JSON)."""
    d = read_json(path)
    return FashionGrids(d["config"], rows(SizeRun, d["sizes"], source=str(path)),
                        rows(MixingScores, d["mixing"], source=str(path)), d["seconds"], d.get("command", ""))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Chapter 05's FashionMNIST grids (augmentation vs n_train; mixing)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--mix-epochs", type=int, default=MIX_EPOCHS)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="training-set sizes, comma-separated")
    ap.add_argument("--n-val", type=int, default=1000)
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    try:
        sizes = tuple(int(n) for n in args.sizes.split(","))
    except ValueError:
        ap.error(f"--sizes={args.sizes!r}: give whole numbers separated by commas, e.g. 250,1000,4000")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    res = fashion_grids(sizes=sizes, steps=args.steps, mix_epochs=args.mix_epochs, n_val=args.n_val,
                        device=args.device)
    res.command = ("OMP_NUM_THREADS=1 python -m regviz.experiments.augmentation --out " + args.out
                   + f" --steps {args.steps} --mix-epochs {args.mix_epochs} --sizes {args.sizes}"
                   f" --n-val {args.n_val}")
    save_results(res, args.out)
    print(f"wrote {args.out} in {res.seconds} s")


if __name__ == "__main__":
    main()
