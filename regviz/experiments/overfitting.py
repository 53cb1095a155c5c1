"""Chapter 01: a digits MLP at one width, training-set size and label noise; the panel's grid of such runs; and
the FashionMNIST benchmark's reference points (Xiao, Rasul & Vollgraf 2017, arXiv 1708.07747).

Regenerate the stored reference file (minutes on a 2-core CPU)::

    python -m regviz.experiments.overfitting --reference --out notebooks/results/fashion_reference.json
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import torch

from ..data import load_dataset
from ..device import seeded
from ..history import History
from ..models import CNN, MLP
from ..train import fit
from ..validate import check_choice, check_int, check_number
from .stored import read_json

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


# Published FashionMNIST test accuracies. logreg: scikit-learn LogisticRegression (multinomial, C=1) in the
# benchmark table of Xiao et al. (2017) and its repository; mlp: scikit-learn MLPClassifier (ReLU, 100 hidden units)
# in the same table; cnn: the two-conv + pooling networks listed in the repository's benchmark table (0.91-0.92).
REFERENCE = {"logreg": 0.842, "mlp": 0.877, "cnn": 0.916}
REFERENCE_RECIPE = {  # Adam(W), no decay, batch 128: epochs and learning rate per model
    "logreg": dict(epochs=10, lr=1e-3),
    "mlp": dict(epochs=10, lr=1e-3),
    "cnn": dict(epochs=5, lr=1e-3),
}
REFERENCE_COMMAND = "python -m regviz.experiments.overfitting --reference --out notebooks/results/fashion_reference.json"


def reference_model(name: str, input_shape=(1, 28, 28), num_classes: int = 10) -> torch.nn.Module:
    """``"logreg"`` (MLP depth 0: one ``nn.Linear(784, 10)``), ``"mlp"`` (784-256-256-10) or ``"cnn"`` (the
    two-conv benchmark CNN, 32/64 channels, a 128-unit head)."""
    check_choice("name", name, tuple(REFERENCE))
    n_in = 1
    for d in input_shape:
        n_in *= d
    if name == "logreg":
        return MLP(n_in, num_classes, depth=0)
    if name == "mlp":
        return MLP(n_in, num_classes, width=256, depth=2)
    return CNN(tuple(input_shape), num_classes, channels=32, hidden=128)


@dataclass
class ReferenceRun:
    """One FashionMNIST reference model: its final test accuracy, the published figure, seconds, its History."""

    test_acc: float
    reference: float
    wall_s: float
    history: History


@dataclass
class FashionReference:
    """``fashion_reference``'s result: the shared settings (``config``) and one run per model name."""

    config: dict
    runs: dict[str, ReferenceRun] = field(default_factory=dict)


def fashion_reference(*, n_train: int | None = None, n_val: int | None = None, epochs: int | None = None,
                      models=tuple(REFERENCE), seed: int = 0, device=None, n_eval_train: int = 2000,
                      progress: bool = False) -> FashionReference:
    """Train the benchmark's three reference models on FashionMNIST (default: the full 60,000 / 10,000 split).

    Args:
        n_train, n_val: None = all 60,000 training and all 10,000 test images (a subset for a quick look).
        epochs: None = ``REFERENCE_RECIPE``'s epochs per model; an int overrides all of them.
        models: which of ``REFERENCE`` to train.
        n_eval_train: training images used for the per-epoch training loss/accuracy (the test set is always
            evaluated in full).

    Returns:
        a ``FashionReference``: its ``config`` and one ``ReferenceRun`` per model; ``test_acc`` is the last epoch's
        accuracy on the test images (no epoch is picked by test accuracy).
    """
    data = load_dataset("fashion_mnist", n_train=n_train, n_val=n_val, seed=seed, device=device)
    out = FashionReference(dict(dataset="fashion_mnist", n_train=len(data.y_train), n_val=len(data.y_val), seed=seed,
                                batch_size=128, optimizer="adamw", weight_decay=0.0, n_eval_train=n_eval_train,
                                threads=torch.get_num_threads(), torch=torch.__version__, command=REFERENCE_COMMAND))
    for name in models:
        recipe = dict(REFERENCE_RECIPE[name], **({} if epochs is None else {"epochs": epochs}))
        with seeded(seed, device):
            model = reference_model(name, tuple(data.X_train.shape[1:]), data.num_classes)
        t = time.perf_counter()
        h = fit(model, data, batch_size=128, seed=seed, device=device, progress=False,
                n_eval_train=min(n_eval_train, len(data.y_train)), **recipe)
        run = out.runs[name] = ReferenceRun(h.val_acc[-1], REFERENCE[name], round(time.perf_counter() - t, 1), h)
        if progress:
            print(f"{name:6s} test acc {run.test_acc:.4f} (published {REFERENCE[name]:.3f}), {run.wall_s} s",
                  flush=True)
    return out


def save_reference(result: FashionReference, path: str | Path) -> None:
    """Write a ``fashion_reference`` result as JSON (Histories as dicts)."""
    runs = {name: dict(asdict(r), history=r.history.to_dict()) for name, r in result.runs.items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({"config": result.config, "runs": runs}, indent=1))


def load_reference(path: str | Path) -> FashionReference:
    """What ``save_reference`` wrote, Histories restored."""
    stored = read_json(path)
    return FashionReference(stored["config"], {name: ReferenceRun(**dict(r, history=History.from_dict(r["history"])))
                                               for name, r in stored["runs"].items()})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="chapter 01's stored runs")
    ap.add_argument("--reference", action="store_true", help="train the FashionMNIST reference models")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not args.reference:
        ap.error("nothing to do: pass --reference")
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    t = time.perf_counter()
    result = fashion_reference(seed=args.seed, device=args.device, progress=True)
    result.config["wall_s"] = round(time.perf_counter() - t, 1)
    save_reference(result, args.out)
    print(f"wrote {args.out} ({result.config['wall_s']} s)")


if __name__ == "__main__":
    main()
