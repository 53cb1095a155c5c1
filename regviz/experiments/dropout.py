"""Chapter 03: the dropout p sweep on FashionMNIST (a wide MLP on few images, several seeds, a logistic baseline)
and the ensemble of fixed sub-networks.

Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from Overfitting" (JMLR 2014);
Hinton et al., "Improving neural networks by preventing co-adaptation of feature detectors" (arXiv 1207.0580, 2012).

Regenerate the stored grid (``notebooks/results/dropout_fashion.json``)::

    OMP_NUM_THREADS=2 python -m regviz.experiments.dropout --out notebooks/results/dropout_fashion.json
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ..data import load_dataset
from ..device import resolve_device, seeded
from ..history import History
from ..layers import Dropout
from ..models import MLP
from ..sweep import sweep
from ..train import fit
from ..validate import check_int, check_probability
from .stored import read_json

FASHION_PS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)
# the headline setting: d2l's dropout chapter (FashionMNIST, wide MLP), on few images so that p=0 memorises
FASHION = dict(n_train=1000, n_val=2000, width=512, depth=2, epochs=50, lr=1e-3, batch_size=64)
# where the best-epoch accuracy gain shows (Srivastava et al. 2014, section 7.4: the gain grows with the data up to
# a point): five times the images, twice the epochs, p = 0 vs p = 0.5 only
MORE_DATA = dict(n_train=5000, n_val=2000, width=512, depth=2, epochs=100, lr=1e-3, batch_size=64)
SETTINGS = {"headline": FASHION, "more_data": MORE_DATA}
FASHION_FAST = dict(n_train=300, n_val=1000, width=256, depth=2, epochs=12, lr=1e-3, batch_size=64)
STORED = Path(__file__).resolve().parents[2] / "notebooks" / "results" / "dropout_fashion.json"
STORED_MORE_DATA = STORED.with_name("dropout_fashion_5000.json")


@dataclass
class DropoutSweep:
    """``fashion_sweep``'s result: per p, one History per seed (``mlp[p][j]``: seed ``seeds[j]``), and the logistic
    baseline per seed; ``seconds`` of wall time, and (stored runs) the ``command`` that made it."""

    ps: list[float]
    seeds: list[int]
    config: dict
    seconds: float
    mlp: dict[float, list[History]]
    logistic: list[History]
    command: str = ""


# ---------------------------------------------------------------- the headline: FashionMNIST, p x seeds

def fashion_sweep(*, ps: Sequence[float] = FASHION_PS, seeds: Sequence[int] = (0, 1, 2), n_train: int = 1000,
                  n_val: int = 2000, width: int = 512, depth: int = 2, epochs: int = 50, lr: float = 1e-3,
                  batch_size: int = 64, device=None, n_eval_train: int | None = 500,
                  progress: bool = False) -> DropoutSweep:
    """Every p for every seed on FashionMNIST, plus a logistic-regression baseline (``MLP(depth=0)``) per seed.

    Per seed: one ``load_dataset`` (the seed picks the ``n_train`` training images; validation is the first
    ``n_val`` official test images for every seed), one batched ``sweep(knob="p")`` over ``ps`` (the K models
    share that seed's images and batch order, so each seed is a paired comparison), one logistic ``fit``.

    Returns:
        a ``DropoutSweep``.
    """
    for p in ps:
        check_probability("p", p)
    check_int("epochs", epochs)
    dev = resolve_device(device)
    config = dict(n_train=n_train, n_val=n_val, width=width, depth=depth, epochs=epochs, lr=lr,
                  batch_size=batch_size, n_eval_train=n_eval_train)
    kw = dict(epochs=epochs, lr=lr, batch_size=batch_size, device=dev, n_eval_train=n_eval_train, progress=progress)
    start = time.perf_counter()
    mlp: dict[float, list[History]] = {float(p): [] for p in ps}
    logistic = []
    for s in seeds:
        data = load_dataset("fashion_mnist", n_train=n_train, n_val=n_val, seed=s, device=dev)
        hists = sweep(lambda: MLP(data.in_features, data.num_classes, width=width, depth=depth), data,
                      knob="p", values=list(ps), seed=s, **kw)
        for p, h in zip(ps, hists):
            mlp[float(p)].append(h)
        with seeded(s, dev):
            lin = MLP(data.in_features, data.num_classes, depth=0)
        logistic.append(fit(lin, data, seed=s, **kw))
    return DropoutSweep([float(p) for p in ps], list(seeds), config, time.perf_counter() - start, mlp, logistic)


def best_scores(hists: Sequence[History]) -> dict[str, list[float]]:
    """Per run: the best validation accuracy and the lowest validation loss over its epochs, and the final gap.

    Returns:
        ``{"best val acc": [...], "best val loss": [...], "final gap": [...]}``, one value per History.
    """
    return {"best val acc": [max(h.val_acc) for h in hists],
            "best val loss": [min(h.val_loss) for h in hists],
            "final gap": [h.loss_gap[-1] for h in hists]}


def save_sweep(result: DropoutSweep, path: str | Path, *, command: str = "") -> None:
    """Write a ``fashion_sweep`` result as JSON (Histories via ``to_dict``), with its wall time and command."""
    out = dict(ps=result.ps, seeds=result.seeds, config=result.config, seconds=result.seconds, command=command,
               mlp={str(p): [h.to_dict() for h in hs] for p, hs in result.mlp.items()},
               logistic=[h.to_dict() for h in result.logistic])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(out))


def load_sweep(path: str | Path = STORED) -> DropoutSweep:
    """Read what ``save_sweep`` wrote, Histories restored, with the command that made it."""
    d = read_json(path)
    return DropoutSweep(d["ps"], d["seeds"], d["config"], d["seconds"],
                        {float(p): [History.from_dict(h) for h in hs] for p, hs in d["mlp"].items()},
                        [History.from_dict(h) for h in d["logistic"]], d.get("command", ""))


# ---------------------------------------------------------------- the ensemble view: fixed sub-networks

@torch.no_grad()
def subnetwork_probs(model: MLP, X: torch.Tensor, *, num_masks: int = 50, seed: int = 0) -> torch.Tensor:
    """Softmax outputs of ``num_masks`` sub-networks of a trained ``regviz.MLP``.

    Pass k draws ONE keep-mask per dropout layer, of shape (1, width), and broadcasts it over the whole batch,
    so every input of pass k goes through the same thinned network (inverted scaling 1/(1-p) as in training).
    The model is used in eval mode and is not modified.

    Args:
        model: a ``regviz.MLP`` (``Flatten, [Linear, ReLU, Dropout] x depth, Linear``).  X: (N, *input_shape).

    Returns:
        (num_masks, N, num_classes) probabilities.
    """
    check_int("num_masks", num_masks)
    layers = list(model.net)
    g = torch.Generator(device=X.device).manual_seed(seed)
    out = []
    for _ in range(num_masks):
        h = X
        for layer in layers:
            if isinstance(layer, (Dropout, nn.Dropout)) and layer.p > 0:
                keep = torch.rand((1, h.shape[1]), generator=g, device=h.device) >= layer.p  # (1, width)
                h = h * keep / (1.0 - layer.p)
            else:
                h = layer(h)
        out.append(h.softmax(-1))
    return torch.stack(out)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m regviz.experiments.dropout --out FILE``: run ``fashion_sweep`` in the chapter's setting, store it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(STORED))
    ap.add_argument("--setting", default="headline", choices=sorted(SETTINGS))
    ap.add_argument("--ps", default=None, help="dropout probabilities, comma-separated (default: the chapter's)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        ps = FASHION_PS if args.ps is None else tuple(float(p) for p in args.ps.split(","))
    except ValueError:
        ap.error(f"--ps={args.ps!r}: give probabilities separated by commas, e.g. 0,0.5")
    result = fashion_sweep(ps=ps, seeds=range(args.seeds), device=args.device, progress=True,
                           **SETTINGS[args.setting])
    cmd = (f"OMP_NUM_THREADS={args.threads} python -m regviz.experiments.dropout --out {args.out} "
           f"--setting {args.setting}" + (f" --ps {args.ps}" if args.ps else "")
           + f" --seeds {args.seeds} --device {args.device} --threads {args.threads}")
    save_sweep(result, args.out, command=cmd)
    print(f"{result.seconds:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
