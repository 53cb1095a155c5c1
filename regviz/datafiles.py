"""Local copies of the image datasets: where FashionMNIST's IDX files and CIFAR-10 live, and reading them.

FashionMNIST: Debian's package ``dataset-fashion-mnist``, a folder of your own ($REGVIZ_DATA or ``root=``), or
torchvision's download into ``~/.cache/regviz`` (only when asked). Xiao, Rasul & Vollgraf, "Fashion-MNIST: a Novel
Image Dataset for Benchmarking Machine Learning Algorithms", arXiv:1708.07747, 2017.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import torch

DATA_ENV_VAR = "REGVIZ_DATA"


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Where FashionMNIST/CIFAR-10 copies live: ``root``, else $REGVIZ_DATA, else ~/.cache/regviz."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get(DATA_ENV_VAR, Path.home() / ".cache" / "regviz"))


class DataNotFoundError(FileNotFoundError, ValueError):
    """No local copy of a dataset where one was looked for (a ValueError, and a FileNotFoundError for old callers)."""


FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's package dataset-fashion-mnist
_FASHION_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                  "t10k-labels-idx1-ubyte")


def fashion_mnist_places(root: str | os.PathLike | None = None) -> list[Path]:
    """The folders ``load_dataset("fashion_mnist")`` looks in, in order.

    1. ``root`` (else $REGVIZ_DATA), as a flat folder of the four IDX files or torchvision's ``FashionMNIST/raw``;
    2. Debian's ``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``);
    3. torchvision's layout under the default cache ``~/.cache/regviz`` (where ``download=True`` puts it).
    """
    places = []
    if root is not None or os.environ.get(DATA_ENV_VAR):
        base = data_root(root)
        places += [base, base / "FashionMNIST" / "raw"]
    places.append(DEBIAN_FASHION_DIR)
    places.append(Path.home() / ".cache" / "regviz" / "FashionMNIST" / "raw")
    return places


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def fashion_files(root: str | os.PathLike | None, download: bool) -> tuple[Path, ...]:
    """The four IDX files from the first place in ``fashion_mnist_places(root)`` that has all four."""
    places = fashion_mnist_places(root)
    for folder in places:
        files = [_find_idx(folder, stem) for stem in _FASHION_FILES]
        if all(files):
            return tuple(files)
    if not download:
        looked = "; ".join(str(p) for p in places)
        raise DataNotFoundError(
            f"FashionMNIST's four IDX files ({', '.join(_FASHION_FILES)}, gzipped or not) were not found. "
            f"Looked in: {looked}. Get them with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu, "
            f"offline afterwards), or call load_dataset('fashion_mnist', download=True) where the network "
            f"allows (torchvision downloads into {places[-1].parent.parent}); root= or ${DATA_ENV_VAR} "
            "point at a copy of your own.")
    from torchvision import datasets

    target = places[-1].parent.parent
    datasets.FashionMNIST(str(target), train=True, download=True)
    datasets.FashionMNIST(str(target), train=False, download=True)
    return tuple(_find_idx(places[-1], stem) for stem in _FASHION_FILES)


def find_fashion_mnist(root: str | os.PathLike | None = None, *, download: bool = False) -> tuple[Path, ...] | None:
    """The four FashionMNIST IDX files ``load_dataset`` would read, or None when there are none.

    With ``download=True`` a missing copy is fetched by torchvision into ``~/.cache/regviz`` (Colab, a laptop).
    """
    try:
        return fashion_files(root, download)
    except DataNotFoundError:
        return None


@lru_cache(maxsize=2)
def fashion_pool(files: tuple[Path, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from .idx import read_idx

    X_tr, y_tr, X_va, y_va = (read_idx(f) for f in files)
    for what, X, y in (("training", X_tr, y_tr), ("test", X_va, y_va)):
        if X.ndim != 3 or y.ndim != 1 or len(X) != len(y) or X.dtype != torch.uint8:
            raise ValueError(f"FashionMNIST {what} files {files} hold images {tuple(X.shape)} {X.dtype} and "
                             f"labels {tuple(y.shape)}: expected (N, H, W) uint8 images and N labels")
        if len(y) and int(y.max()) >= len(FASHION_CLASSES):
            raise ValueError(f"FashionMNIST {what} labels in {files} go up to {int(y.max())}; classes are 0-9")
    f = lambda X: X.unsqueeze(1).float() / 255.0  # noqa: E731  (N, 1, 28, 28) in [0, 1]
    return f(X_tr), y_tr.long(), f(X_va), y_va.long()


def torchvision_pool(name: str, root: Path, download: bool):
    from torchvision import datasets

    try:
        train = datasets.CIFAR10(str(root), train=True, download=download)
        val = datasets.CIFAR10(str(root), train=False, download=download)
    except RuntimeError as exc:  # torchvision: "Dataset not found or corrupted"
        raise DataNotFoundError(
            f"no local copy of {name} under {root} ({exc}). Put torchvision's files there, set "
            f"${DATA_ENV_VAR}, or call load_dataset({name!r}) with download set to True where the network allows."
        ) from exc

    def tensors(ds):
        X = torch.as_tensor(ds.data).permute(0, 3, 1, 2)  # (N, C, H, W)
        return X.float() / 255.0, torch.as_tensor(ds.targets, dtype=torch.int64)

    return (*tensors(train), *tensors(val))
