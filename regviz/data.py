"""Offline datasets as tensors already on the device.

Small built-in sets (scikit-learn's 8x8 digits, MNIST-1D generated locally, 2-D toy sets) never touch
the network; FashionMNIST (Debian's package, or any local copy of the IDX files) and CIFAR-10 are read from a
local copy and download only when asked (where they are looked for: ``regviz.datafiles``).
MNIST-1D: Greydanus & Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache

import torch

from .datafiles import (CIFAR10_CLASSES, DATA_ENV_VAR, DEBIAN_FASHION_DIR, FASHION_CLASSES,  # noqa: F401 - the face
                        DataNotFoundError, data_root, fashion_files, fashion_mnist_places, fashion_pool,
                        find_fashion_mnist, torchvision_pool)
from .device import resolve_device
from .validate import check_choice, check_int, check_number, check_probability

TOY_2D = ("moons", "circles", "spirals", "xor")
DATASETS = ("digits", "mnist1d", *TOY_2D, "fashion_mnist", "cifar10")


@dataclass(frozen=True)
class Dataset:
    """Train/validation tensors plus what a model needs to know about them.

    Attributes:
        X_train: (N, *input_shape) float32.   y_train: (N,) int64 class labels (possibly noisy).
        X_val:   (M, *input_shape) float32.   y_val:   (M,) int64 clean labels.
    """

    name: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int
    input_shape: tuple[int, ...]
    noisy_mask: torch.Tensor | None = None  # (N,) bool: which training labels were flipped
    config: dict = field(default_factory=dict)  # how it was made (load_dataset's arguments); lands in History.config
    class_names: tuple[str, ...] = ()  # class_names[k] names label k

    @property
    def in_features(self) -> int:
        """Product of ``input_shape``: what an MLP's first layer takes."""
        return math.prod(self.input_shape)

    @property
    def device(self) -> torch.device:
        return self.X_train.device

    def to(self, device: str | torch.device | None) -> "Dataset":
        """A copy with every tensor on ``device`` (None = the default device)."""
        dev = resolve_device(device)
        moved = {k: (v.to(dev) if isinstance(v, torch.Tensor) else v) for k, v in self.__dict__.items()}
        return replace(self, **moved)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={tuple(self.X_train.shape)}, val={tuple(self.X_val.shape)}, "
                f"classes={self.num_classes}, device={self.device})")


# ---------------------------------------------------------------- raw pools (CPU, cached)

@lru_cache(maxsize=2)
def _digits_pool() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits  # ships inside scikit-learn: no download

    bunch = load_digits()
    X = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (1797, 1, 8, 8) in [0, 1]
    return X, torch.tensor(bunch.target, dtype=torch.int64)


@lru_cache(maxsize=2)
def _mnist1d_pool() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    # make_dataset(get_dataset_args()) regenerates the published MNIST-1D exactly, offline (~5 s);
    # the result is kept in data_root() so later processes load it in milliseconds.
    from importlib.metadata import version

    cache = data_root() / f"mnist1d-{version('mnist1d')}-default.pt"
    try:
        return tuple(torch.load(cache, weights_only=True))
    except Exception:  # noqa: BLE001 -- missing or unreadable cache: regenerate
        pass
    from mnist1d.data import get_dataset_args, make_dataset

    d = make_dataset(get_dataset_args())
    f = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    i = lambda a: torch.tensor(a, dtype=torch.int64)  # noqa: E731
    pool = (f(d["x"]), i(d["y"]), f(d["x_test"]), i(d["y_test"]))
    try:  # write-then-rename, so parallel test workers never read a half-written file
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        torch.save(list(pool), tmp)
        os.replace(tmp, cache)
    except OSError:
        pass
    return pool


def _toy_2d(name: str, n: int, noise: float, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n points of a 2-class (3 for spirals) 2-D problem, Gaussian noise of std ``noise``."""
    if name == "moons":
        y = torch.randint(0, 2, (n,), generator=g)
        t = torch.rand(n, generator=g) * math.pi
        x0 = torch.where(y == 0, torch.cos(t), 1 - torch.cos(t))
        x1 = torch.where(y == 0, torch.sin(t), 0.5 - torch.sin(t))
        X = torch.stack([x0 - 0.5, x1 - 0.25], 1)
    elif name == "circles":
        y = torch.randint(0, 2, (n,), generator=g)
        t = torch.rand(n, generator=g) * 2 * math.pi
        r = torch.where(y == 0, 1.0, 0.5)
        X = torch.stack([r * torch.cos(t), r * torch.sin(t)], 1)
    elif name == "spirals":
        k = 3
        y = torch.randint(0, k, (n,), generator=g)
        r = torch.rand(n, generator=g)
        t = r * 4.0 + y * (2 * math.pi / k)
        X = torch.stack([r * torch.cos(t), r * torch.sin(t)], 1)
    else:  # xor
        X = torch.rand(n, 2, generator=g) * 2 - 1
        y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).long()
    return X + noise * torch.randn(n, 2, generator=g), y


# ---------------------------------------------------------------- public loader

def flip_labels(y: torch.Tensor, fraction: float, num_classes: int, generator: torch.Generator):
    """Return (new labels, mask): exactly round(fraction*N) labels moved to a different random class.

    The input is not modified.
    """
    n = y.numel()
    k = round(fraction * n)
    idx = torch.randperm(n, generator=generator)[:k]
    shift = torch.randint(1, num_classes, (k,), generator=generator)  # never 0: the class really changes
    y_new = y.clone()
    y_new[idx] = (y[idx] + shift) % num_classes
    mask = torch.zeros(n, dtype=torch.bool)
    mask[idx] = True
    return y_new, mask


def load_dataset(
    name: str,
    *,
    n_train: int | None = None,
    n_val: int | None = None,
    label_noise: float = 0.0,
    noise: float = 0.1,
    seed: int = 0,
    device: str | torch.device | None = None,
    root: str | os.PathLike | None = None,
    download: bool = False,
) -> Dataset:
    """Load a dataset as tensors on ``device``.

    Args:
        name: one of ``DATASETS``.
        n_train: training-subset size (default: the whole training pool; 200 for the 2-D sets).
        n_val: validation size (default: the whole held-out pool; 1000 for the 2-D sets).
        label_noise: fraction in [0, 1) of training labels flipped to another class (validation stays clean).
        noise: std of the Gaussian noise added to the 2-D sets (ignored elsewhere).
        seed: picks the subset and the flipped labels; the train/validation split itself is fixed.
        device: None = ``default_device()``.
        root, download: only for ``fashion_mnist`` / ``cifar10``. FashionMNIST is looked for in
            ``fashion_mnist_places(root)`` order; its validation set is the official 10,000 test images
            (``n_val`` takes the first ``n_val`` of them, the same ones for every seed).

    Returns:
        A ``Dataset``.
    """
    check_choice("name", name, DATASETS)
    check_probability("label_noise", label_noise)
    check_number("noise", noise)
    dev = resolve_device(device)
    split = torch.Generator().manual_seed(12345)  # fixed split: every seed sees the same validation set
    g = torch.Generator().manual_seed(seed)

    if name in TOY_2D:
        n_tr = 200 if n_train is None else n_train
        n_va = 1000 if n_val is None else n_val
        check_int("n_train", n_tr)
        check_int("n_val", n_va)
        X_pool, y_pool = _toy_2d(name, n_tr, noise, g)
        X_va, y_va = _toy_2d(name, n_va, noise, split)
        X_tr, y_tr = X_pool, y_pool
    else:
        if name == "digits":
            X, y = _digits_pool()
            perm = torch.randperm(len(y), generator=split)
            X_pool, y_pool, X_va, y_va = X[perm[:1200]], y[perm[:1200]], X[perm[1200:]], y[perm[1200:]]
        elif name == "mnist1d":
            X_pool, y_pool, X_va, y_va = _mnist1d_pool()
        elif name == "fashion_mnist":
            X_pool, y_pool, X_va, y_va = fashion_pool(fashion_files(root, download))
        else:
            X_pool, y_pool, X_va, y_va = torchvision_pool(name, data_root(root), download)
        for what, v, avail in (("n_train", n_train, len(y_pool)), ("n_val", n_val, len(y_va))):
            if v is not None and not (isinstance(v, int) and 1 <= v <= avail):
                raise ValueError(f"{what}={v!r} is not allowed for {name!r}: use an int from 1 to {avail}")
        pick = torch.randperm(len(y_pool), generator=g)[: len(y_pool) if n_train is None else n_train]
        X_tr, y_tr = X_pool[pick], y_pool[pick]
        if n_val is not None:
            X_va, y_va = X_va[:n_val], y_va[:n_val]

    num_classes = 3 if name == "spirals" else 2 if name in TOY_2D else 10
    class_names = {"fashion_mnist": FASHION_CLASSES, "cifar10": CIFAR10_CLASSES}.get(
        name, tuple(str(k) for k in range(num_classes)))
    noisy = None
    if label_noise > 0:
        y_tr, noisy = flip_labels(y_tr, label_noise, num_classes, g)
    return Dataset(
        name=name, X_train=X_tr.contiguous().to(dev), y_train=y_tr.to(dev),
        X_val=X_va.contiguous().to(dev), y_val=y_va.to(dev), num_classes=num_classes,
        input_shape=tuple(X_tr.shape[1:]), noisy_mask=None if noisy is None else noisy.to(dev), class_names=class_names,
        config=dict(n_train=len(y_tr), n_val=len(y_va), label_noise=label_noise, data_seed=seed,
                    **({"noise": noise} if name in TOY_2D else {})),
    )
