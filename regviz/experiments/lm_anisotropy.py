"""Chapter 07: the output head's common direction (the mean output-embedding row) against learning rate, with and
without z-loss and with mu-centering, at CPU scale.

Every head row W_i gets the cross-entropy gradient (p_i - y_i) h, and the p_i - y_i sum to zero over the vocabulary,
so cross-entropy never moves the mean row mu = mean_i W_i under plain gradient descent. Adam divides each
coordinate by its own running scale, which breaks that sum, and mu drifts. Since mu . h is added to every logit, the
drift leaves the softmax unchanged but shifts log Z. Stollenwerk et al., "Output Embedding Centering for Stable LLM
Pretraining" (2026, arXiv 2601.02031) blame this common direction for the output-logit divergence. They remove it
with mu-centering: after each step, subtract the vocabulary mean from the head's rows.

Here mu-centering is a ``torch.nn.utils.parametrize`` parametrisation: the head used in the forward pass is
``W - mean_i W_i``. With cross-entropy and no weight decay (this experiment's mu-centering runs) this gives the same
trajectory as re-centring after every step: the head's cross-entropy gradient is already centred, so Adam sees the
same gradients. With z-loss it is not, and the two differ. ``tests/test_lm_anisotropy.py`` checks both.

Recipe: the LR sweep's (``regviz.experiments.lm_stability``: AdamW, beta2 0.95, no weight decay, warm-up then
cosine, clipping at 1, qk-layernorm on, so no run diverges).

Regenerate the stored file (48 runs, about 40 minutes on a 2-core CPU)::

    OMP_NUM_THREADS=1 python -m regviz.experiments.lm_anisotropy --out notebooks/results/lm_anisotropy.json
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..device import resolve_device, seeded
from ..lm import fit_lm
from ..models import TinyLM
from ..text import lm_dataset, stdlib_corpus
from .lm_stability import SCALES
from .stored import read_json, record, rows

LRS = (1e-3, 1e-2, 1e-1, 3e-1)
SEEDS = (0, 1, 2)
# name -> (z-loss coefficient, mu-centering)
VARIANTS = {"none": (0.0, False), "z-loss 1e-4": (1e-4, False), "z-loss 1e-2": (1e-2, False),
            "mu-centering": (0.0, True)}
STORED = Path(__file__).resolve().parents[2] / "notebooks" / "results" / "lm_anisotropy.json"


class Centered(nn.Module):
    """Parametrisation that subtracts the mean row: (V, d) -> (V, d) with every column summing to zero."""

    def forward(self, W: torch.Tensor) -> torch.Tensor:
        return W - W.mean(0, keepdim=True)


def center_head_(model: TinyLM) -> TinyLM:
    """Register ``Centered`` on ``model.head.weight`` (in place; untied heads only) and return the model."""
    if getattr(model, "tied", False):
        raise ValueError("mu-centering a tied head would also centre the token embedding; got tie_weights=True")
    parametrize.register_parametrization(model.head, "weight", Centered())
    return model


@torch.no_grad()
def head_stats(model: nn.Module) -> dict[str, float]:
    """Norm of the mean head row, mean row norm, their ratio (the head's anisotropy, 0 for a centred head) and, for a
    parametrised head, the norm of the stored (uncentred) mean row that the centring removes."""
    W = model.head.weight.float()  # (V, d): the head the forward pass uses
    mean_row, row_norm = W.mean(0).norm().item(), W.norm(dim=1).mean().item()
    out = {"mean_row_norm": mean_row, "row_norm": row_norm, "anisotropy": mean_row / row_norm}
    if parametrize.is_parametrized(model.head, "weight"):
        out["raw_mean_row_norm"] = model.head.parametrizations.weight.original.float().mean(0).norm().item()
    return out


class HeadRecorder:
    """``fit``'s ``on_epoch_end`` hook: after each epoch, ``head_stats`` and the mean logit over the first ``n_val``
    validation blocks (mu . h averaged over positions: the part of every logit that the softmax ignores)."""

    def __init__(self, X_val: torch.Tensor, n_val: int = 512):
        self.X_val, self.records = X_val[:n_val], []

    @torch.no_grad()
    def __call__(self, epoch: int, model: nn.Module, history) -> None:
        was_training = model.training
        model.eval()
        mean_logit = sum(model(self.X_val[i:i + 256]).float().sum().item() for i in range(0, len(self.X_val), 256))
        n = self.X_val.numel() * model.head.weight.shape[0]  # positions x vocabulary
        self.records.append({**head_stats(model), "mean_logit": mean_logit / n})
        model.train(was_training)


@dataclass(frozen=True, kw_only=True)
class HeadRun:
    """One (variant, lr, seed) run: its setting, per-epoch losses, mean validation ``log_z`` and ``mean_logit``, and
    ``head_stats`` per epoch (``raw_mean_row_norm`` for mu-centred heads only); ``init``: ``head_stats`` at step 0."""

    variant: str
    lr: float
    seed: int
    z_loss: float
    mu_centering: bool
    val_loss: list[float]
    train_loss: list[float]
    log_z: list[float]
    init: dict
    seconds: float
    mean_row_norm: list[float]
    row_norm: list[float]
    anisotropy: list[float]
    raw_mean_row_norm: list[float] | None = None
    mean_logit: list[float]


PER_EPOCH = tuple(f.name for f in fields(HeadRun) if f.type.startswith("list"))  # what ``table`` can read


@dataclass
class HeadRuns:
    """``run``'s result: the shared ``config``, one ``HeadRun`` per (variant, lr, seed), the wall time and (stored
    runs) the ``command`` that made it."""

    config: dict
    runs: list[HeadRun]
    seconds: float = 0.0
    command: str = ""


def run(*, lrs=LRS, variants=tuple(VARIANTS), seeds=SEEDS, device=None, log=print) -> HeadRuns:
    """Train one TinyLM per (variant, lr, seed) with the LR sweep's CPU recipe and record per-epoch head statistics.

    Returns:
        a ``HeadRuns`` (per-epoch lists: one entry per epoch).
    """
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise ValueError(f"variants {unknown} are not known; allowed: {sorted(VARIANTS)}")
    cfg = SCALES["cpu"]
    dev = resolve_device(device)
    data, vocab = lm_dataset(stdlib_corpus(), block_size=cfg["block_size"], n_train=cfg["n_train"], device=dev)
    recipe = dict(epochs=cfg["epochs"], batch_size=cfg["batch_size"], weight_decay=0.0, betas=(0.9, 0.95),
                  warmup_steps=50, schedule="cosine", grad_clip=1.0, n_eval_val=512)
    steps = cfg["epochs"] * -(-len(data.X_train) // cfg["batch_size"])
    out = HeadRuns({**{k: cfg[k] for k in ("d_model", "n_layers", "n_heads", "block_size")}, "qk_norm": True,
                    "n_train_blocks": len(data.X_train), "vocab": len(vocab), "steps": steps,
                    **{k: v for k, v in recipe.items() if k != "betas"}, "betas": list(recipe["betas"]),
                    "device": str(dev), "torch": torch.__version__, "threads": torch.get_num_threads()}, [])
    t0 = time.perf_counter()
    for seed in seeds:
        for name in variants:
            z, centre = VARIANTS[name]
            for lr in lrs:
                with seeded(seed, dev):
                    model = TinyLM(len(vocab), cfg["block_size"], d_model=cfg["d_model"], n_layers=cfg["n_layers"],
                                   n_heads=cfg["n_heads"], qk_norm=True)
                if centre:
                    center_head_(model)
                init, rec = head_stats(model), HeadRecorder(data.X_val)
                h = fit_lm(model, data, lr=lr, z_loss=z, seed=seed, device=dev, on_epoch_end=rec, **recipe)
                run_ = HeadRun(variant=name, lr=lr, seed=seed, z_loss=z, mu_centering=centre, val_loss=h.val_loss,
                               train_loss=h.train_loss, log_z=h.extra["log_z"], init=init, seconds=round(h.seconds, 1),
                               **{k: [r[k] for r in rec.records] for k in rec.records[0]})
                out.runs.append(run_)
                if log:
                    log(f"seed {seed} {name:13s} lr {lr:<6g} val {h.val_loss[-1]:.3f}  log Z {run_.log_z[-1]:6.2f}"
                        f"  mean logit {run_.mean_logit[-1]:7.2f}  |mean row| {run_.mean_row_norm[-1]:6.2f}"
                        f"  anisotropy {run_.anisotropy[-1]:.2f}  ({h.seconds:.0f} s)", flush=True)
    out.seconds = round(time.perf_counter() - t0, 1)
    return out


def table(result: HeadRuns, key: str, *, epoch: int = -1) -> dict[str, dict[float, list[float]]]:
    """``{variant: {lr: [value at ``epoch`` per seed]}}`` for a per-epoch ``key`` (e.g. "anisotropy", "log_z")."""
    if key not in PER_EPOCH:
        raise ValueError(f"key={key!r}; allowed: {sorted(PER_EPOCH)}")
    out: dict[str, dict[float, list[float]]] = {}
    for r in sorted(result.runs, key=lambda r: r.seed):
        values = getattr(r, key)
        if values is None:
            raise ValueError(f"key={key!r} is recorded for mu-centred heads only; {r.variant!r} has none")
        out.setdefault(r.variant, {}).setdefault(r.lr, []).append(values[epoch])
    return out


def save(result: HeadRuns, path) -> None:
    """Write a ``run`` result as JSON (what ``load`` reads)."""
    Path(path).write_text(json.dumps({"config": result.config, "runs": [record(r) for r in result.runs],
                                      "seconds": result.seconds, "command": result.command}))


def load(path=STORED) -> HeadRuns:
    """Read a stored ``run`` result (JSON)."""
    d = read_json(path)
    return HeadRuns(d["config"], rows(HeadRun, d["runs"], source=str(path)), d["seconds"], d.get("command", ""))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.relpath(STORED))
    ap.add_argument("--seeds", type=int, default=len(SEEDS))
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    res = run(seeds=tuple(range(args.seeds)), device=args.device)
    res.command = (f"OMP_NUM_THREADS=1 python -m regviz.experiments.lm_anisotropy --out {args.out} "
                   f"--seeds {args.seeds} --device {args.device}")
    save(res, args.out)
    print(f"wrote {args.out} in {res.seconds:.0f} s")


if __name__ == "__main__":
    main()
