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


def _cnn(data) -> CNN:
    return CNN(tuple(data.X_train.shape[1:]), data.num_classes, **CNN_SETTINGS)


def size_run(n_train: int, *, augment: bool, seed: int = 0, steps: int = 400, n_val: int = 500,
             device=None) -> dict:
    """One FashionMNIST CNN run with or without ``fashion_augment()``, ``steps`` optimiser steps (batch 64,
    AdamW, lr 2e-3) whatever ``n_train`` is, so small sets are not under-trained.

    Returns:
        ``{"n_train", "augment", "seed", "epochs", "best_val_acc", "final_val_acc", "best_val_loss",
        "final_val_loss", "final_train_acc", "seconds"}`` (training accuracy on un-augmented images).
    """
    check_number("n_train", n_train)
    data = load_dataset("fashion_mnist", n_train=n_train, n_val=n_val, seed=seed, device=device)
    epochs = max(5, math.ceil(steps / math.ceil(n_train / 64)))
    with seeded(seed, device):
        model = _cnn(data)
    h = fit(model, data, epochs=epochs, lr=2e-3, batch_size=64, seed=seed, device=device, progress=False,
            batch_transform=fashion_augment() if augment else None, n_eval_train=100)
    return dict(n_train=n_train, augment=augment, seed=seed, epochs=epochs, best_val_acc=max(h.val_acc),
                final_val_acc=h.val_acc[-1], best_val_loss=min(h.val_loss), final_val_loss=h.val_loss[-1],
                final_train_acc=h.train_acc[-1], seconds=round(h.seconds, 1))


def mixing_run(method: str, alpha: float, *, n_train: int = 500, epochs: int = 40, seed: int = 0,
               n_val: int = 500, device=None) -> dict:
    """One FashionMNIST CNN run with mixup / CutMix at ``alpha`` (``method="plain"``: no mixing), trained long
    enough that the plain model overfits. Calibration is recorded every epoch (``fit_recording``).

    Returns:
        ``{"method", "alpha", "seed", "best_val_acc", "final_val_acc", "best_val_nll", "final_val_nll",
        "final_val_ece", "final_val_conf", "final_train_acc", "seconds"}``.
    """
    check_choice("method", method, ("plain",) + METHODS)
    data = load_dataset("fashion_mnist", n_train=n_train, n_val=n_val, seed=seed, device=device)
    bt = None if method == "plain" else mixing_transform(method, alpha, data.num_classes)
    with seeded(seed, device):
        model = _cnn(data)
    h, _ = fit_recording(model, data, epochs=epochs, lr=2e-3, batch_size=64, seed=seed, device=device,
                         progress=False, batch_transform=bt, n_eval_train=100)
    ex = h.extra
    return dict(method=method, alpha=float(alpha), seed=seed, best_val_acc=max(h.val_acc),
                final_val_acc=h.val_acc[-1], best_val_nll=min(ex["val_nll"]), final_val_nll=ex["val_nll"][-1],
                final_val_ece=ex["val_ece"][-1], final_val_conf=ex["val_conf"][-1],
                final_train_acc=h.train_acc[-1], seconds=round(h.seconds, 1))


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


def flip_run(flip: str, *, n_train: int = 500, seed: int = 0, steps: int = 150, n_val: int = 1000,
             device=None) -> dict:
    """One FashionMNIST CNN run trained with no flip, random horizontal flips or random vertical flips (p = 1/2).

    Returns:
        ``{"flip", "seed", "best_val_acc", "final_val_acc", "best_val_loss", "seconds"}``.
    """
    check_choice("flip", flip, FLIPS)
    data = load_dataset("fashion_mnist", n_train=n_train, n_val=n_val, seed=seed, device=device)
    bt = {"none": None, "horizontal": BatchAugment(degrees=0.0, shift=0.0, scale=0.0, flip=True),
          "vertical": VerticalFlip(0.5)}[flip]
    epochs = max(3, math.ceil(steps / math.ceil(n_train / 64)))
    with seeded(seed, device):
        model = _cnn(data)
    h = fit(model, data, epochs=epochs, lr=2e-3, batch_size=64, seed=seed, device=device, progress=False,
            batch_transform=bt, n_eval_train=250)
    return dict(flip=flip, seed=seed, best_val_acc=max(h.val_acc), final_val_acc=h.val_acc[-1],
                best_val_loss=min(h.val_loss), seconds=round(h.seconds, 1))


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


MIXING_SETTINGS = (("plain", 0.0), ("mixup", 1.0), ("cutmix", 1.0))  # the papers' CIFAR alphas


def fashion_grids(*, sizes=SIZES, seeds=SEEDS, steps: int = STEPS, mix_n_train: int = 500,
                  mix_epochs: int = MIX_EPOCHS, n_val: int = 1000, device=None, log=print) -> dict:
    """Both chapter-05 FashionMNIST grids: augmentation vs ``n_train`` and the mixing comparison.

    Returns:
        ``{"config": {...}, "sizes": [size_run dicts], "mixing": [mixing_run dicts], "seconds": wall time}``.
    """
    t0 = time.perf_counter()
    out = {"config": dict(sizes=list(sizes), seeds=list(seeds), steps=steps, mix_n_train=mix_n_train,
                          mix_epochs=mix_epochs, n_val=n_val, cnn=CNN_SETTINGS, augment=repr(fashion_augment()),
                          mixing=[list(m) for m in MIXING_SETTINGS]),
           "sizes": [], "mixing": []}
    for n in sizes:
        for seed in seeds:
            for aug in (False, True):
                r = size_run(n, augment=aug, seed=seed, steps=steps, n_val=n_val, device=device)
                out["sizes"].append(r)
                if log:
                    log(f"n={n} aug={aug} seed={seed}: best val acc {r['best_val_acc']:.3f} ({r['seconds']} s)")
    for method, alpha in MIXING_SETTINGS:
        for seed in seeds:
            r = mixing_run(method, alpha, n_train=mix_n_train, epochs=mix_epochs, seed=seed, n_val=n_val,
                           device=device)
            out["mixing"].append(r)
            if log:
                log(f"{method} a={alpha} seed={seed}: best acc {r['best_val_acc']:.3f} final NLL "
                    f"{r['final_val_nll']:.3f} ECE {r['final_val_ece']:.3f} ({r['seconds']} s)")
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def by_setting(rows: list[dict], key: str, metric: str) -> dict:
    """Group stored runs: ``{setting: [metric per seed]}`` with ``setting = row[key]`` (a tuple for several keys)."""
    keys = key.split(",")
    groups: dict = {}
    for r in rows:
        k = tuple(r[c] for c in keys) if len(keys) > 1 else r[key]
        groups.setdefault(k, []).append(r[metric])
    return groups


def load_results(path) -> dict:
    """Read a stored ``fashion_grids`` result (JSON)."""
    return json.loads(Path(path).read_text())


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
    res["command"] = ("OMP_NUM_THREADS=1 python -m regviz.experiments.augmentation --out " + args.out
                      + f" --steps {args.steps} --mix-epochs {args.mix_epochs} --sizes {args.sizes}"
                      f" --n-val {args.n_val}")
    Path(args.out).write_text(json.dumps(res, indent=1))
    print(f"wrote {args.out} in {res['seconds']} s")


if __name__ == "__main__":
    main()
