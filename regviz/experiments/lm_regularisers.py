"""Chapter 07: every LM regulariser of the chapter, over seeds, in an overfitting setting that has learned more
than pair counts (1,500 blocks of 32 characters: the unregularised model's best validation loss is well below the
bigram counts on the same text, and its final gap is still large).

Dropout sites: Vaswani et al., "Attention Is All You Need" (NeurIPS 2017). Tying: Press & Wolf (EACL 2017).
Label smoothing: Szegedy et al. (CVPR 2016). Decoupled weight decay: Loshchilov & Hutter (ICLR 2019).

Regenerate the stored files (about 30 and 15 minutes on a 2-core CPU)::

    OMP_NUM_THREADS=1 python -m regviz.experiments.lm_regularisers --grid regularisers
    OMP_NUM_THREADS=1 python -m regviz.experiments.lm_regularisers --grid zloss
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..device import resolve_device, seeded
from ..kneser_ney import kneser_ney_loss
from ..lm import fit_lm
from ..models import TinyLM
from ..text import count_baselines, lm_dataset, ngram_loss, stdlib_corpus
from .stored import read_json, record, rows

SETTING = dict(n_train_blocks=1500, block_size=32, d_model=48, n_layers=2, n_heads=4, epochs=30, lr=3e-3,
               n_eval_val=512)
# name -> (TinyLM keyword arguments, fit_lm keyword arguments)
VARIANTS = {
    "none": ({}, {}),
    "dropout: embedding 0.2": (dict(p_embd=0.2), {}),
    "dropout: attention 0.2": (dict(p_attn=0.2), {}),
    "dropout: residual 0.2": (dict(p_resid=0.2), {}),
    "dropout: all sites 0.1": (dict(p_embd=0.1, p_attn=0.1, p_resid=0.1), {}),
    "weight tying": (dict(tie_weights=True), {}),
    "label smoothing 0.1": ({}, dict(label_smoothing=0.1)),
    "weight decay 0.1, weights only": ({}, dict(weight_decay=0.1, decay="weights")),
    "weight decay 1.0, weights only": ({}, dict(weight_decay=1.0, decay="weights")),
    "weight decay 1.0, all parameters": ({}, dict(weight_decay=1.0, decay="all")),
}
# the z-loss coefficient sweep (0 = "none" above): what z-loss does to log Z and to the loss at this scale
Z_COEFS = (1e-4, 1e-3, 1e-2, 1e-1)
Z_VARIANTS = {"none": ({}, {}), **{f"z-loss {c:g}": ({}, dict(z_loss=c)) for c in Z_COEFS}}
GRIDS = {"regularisers": VARIANTS, "zloss": Z_VARIANTS}
SEEDS = (0, 1, 2)
STORED = Path(__file__).resolve().parents[2] / "notebooks" / "results" / "lm_regularisers.json"
STORED_Z = STORED.with_name("lm_zloss_sweep.json")


@dataclass(frozen=True, kw_only=True)
class RegulariserRun:
    """One (variant, seed) run: per-epoch ``train_loss`` and ``val_loss``, and (runs stored with it) ``log_z``,
    the mean validation log Z per epoch."""

    variant: str
    seed: int
    train_loss: list[float]
    val_loss: list[float]
    log_z: list[float] | None = None
    seconds: float


@dataclass
class RegulariserRuns:
    """``run``'s result: the ``config``, the count-model ``baselines`` on the same training text (nats/char:
    "unigram", "bigram", "trigram", "kneser-ney 2/3/4"), one ``RegulariserRun`` per (variant, seed), the wall time
    and (stored runs) the ``command`` that made it."""

    config: dict
    baselines: dict[str, float]
    runs: list[RegulariserRun]
    seconds: float = 0.0
    command: str = ""


def run(*, variants=tuple(VARIANTS), seeds=SEEDS, device=None, log=print, **overrides) -> RegulariserRuns:
    """Train every variant for every seed (same data for all; the seed sets the initialisation, the batch order and
    the dropout masks) and record per-epoch losses and the count baselines on the same training text.

    Returns:
        a ``RegulariserRuns``.
    """
    known = {**VARIANTS, **Z_VARIANTS}
    unknown = sorted(set(variants) - set(known))
    if unknown:
        raise ValueError(f"variants {unknown} are not known; allowed: {sorted(known)}")
    bad = sorted(set(overrides) - set(SETTING))
    if bad:
        raise ValueError(f"settings {bad} are not known; allowed: {sorted(SETTING)}")
    cfg = {**SETTING, **overrides}
    dev = resolve_device(device)
    data, vocab = lm_dataset(stdlib_corpus(), block_size=cfg["block_size"], n_train=cfg["n_train_blocks"], device=dev)
    t0 = time.perf_counter()
    base = count_baselines(data)
    base["trigram"] = ngram_loss(data, 3)
    for n in (2, 3, 4):
        base[f"kneser-ney {n}"] = kneser_ney_loss(data, n)
    out = RegulariserRuns({**cfg, "train_chars": int(data.X_train.numel()), "vocab": len(vocab), "device": str(dev),
                           "torch": torch.__version__, "threads": torch.get_num_threads(), "seeds": list(seeds)},
                          base, [])
    for seed in seeds:
        for name in variants:
            model_kw, fit_kw = known[name]
            with seeded(seed, dev):
                model = TinyLM(len(vocab), cfg["block_size"], d_model=cfg["d_model"], n_layers=cfg["n_layers"],
                               n_heads=cfg["n_heads"], **model_kw)
            h = fit_lm(model, data, epochs=cfg["epochs"], lr=cfg["lr"], seed=seed, device=dev,
                       n_eval_val=cfg["n_eval_val"], **fit_kw)
            out.runs.append(RegulariserRun(variant=name, seed=seed, train_loss=h.train_loss, val_loss=h.val_loss,
                                           log_z=h.extra["log_z"], seconds=round(h.seconds, 1)))
            if log:
                log(f"seed {seed} {name:34s} best val {min(h.val_loss):.3f}  final gap "
                    f"{h.val_loss[-1] - h.train_loss[-1]:.3f}  ({h.seconds:.0f} s)")
    out.seconds = round(time.perf_counter() - t0, 1)
    return out


def by_variant(result: RegulariserRuns, key: str = "best val") -> dict[str, list[float]]:
    """``{variant: [one number per seed]}`` for ``key`` in "best val" (lowest validation loss over the epochs),
    "final val", "final gap" (final validation minus final training loss) or "final log Z" (mean validation log Z
    at the last epoch; runs stored with it)."""
    pick = {"best val": lambda r: min(r.val_loss), "final val": lambda r: r.val_loss[-1],
            "final gap": lambda r: r.val_loss[-1] - r.train_loss[-1], "final log Z": lambda r: r.log_z[-1]}
    if key not in pick:
        raise ValueError(f"key={key!r}; allowed: {sorted(pick)}")
    if key == "final log Z" and any(r.log_z is None for r in result.runs):
        raise ValueError("key='final log Z': these runs were stored without log Z; allowed: "
                         f"{sorted(k for k in pick if k != key)}")
    out: dict[str, list[float]] = {}
    for r in sorted(result.runs, key=lambda r: r.seed):
        out.setdefault(r.variant, []).append(pick[key](r))
    return out


def save(result: RegulariserRuns, path) -> None:
    """Write a ``run`` result as JSON (what ``load`` reads)."""
    Path(path).write_text(json.dumps({"config": result.config, "baselines": result.baselines,
                                      "runs": [record(r) for r in result.runs], "seconds": result.seconds,
                                      "command": result.command}))


def load(path=STORED) -> RegulariserRuns:
    """Read a stored ``run`` result (JSON)."""
    d = read_json(path)
    return RegulariserRuns(d["config"], d["baselines"], rows(RegulariserRun, d["runs"], source=str(path)),
                           d["seconds"], d.get("command", ""))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="default: the chapter's stored file for the grid")
    ap.add_argument("--grid", default="regularisers", choices=sorted(GRIDS))
    ap.add_argument("--seeds", type=int, default=len(SEEDS))
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    out = args.out or os.path.relpath(STORED if args.grid == "regularisers" else STORED_Z)
    torch.set_num_threads(1)
    res = run(variants=tuple(GRIDS[args.grid]), seeds=tuple(range(args.seeds)), device=args.device)
    res.command = (f"OMP_NUM_THREADS=1 python -m regviz.experiments.lm_regularisers --grid {args.grid} "
                   f"--out {out} --seeds {args.seeds} --device {args.device}")
    save(res, out)
    print(f"wrote {out} in {res.seconds:.0f} s")


if __name__ == "__main__":
    main()
