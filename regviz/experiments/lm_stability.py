"""Learning-rate sensitivity of a tiny LM with and without z-loss and qk-layernorm, at CPU scale.

Scaled-down version of the LR sweeps of Wortsman et al., "Small-scale proxies for large-scale Transformer
training instabilities" (2023, arXiv 2309.14322): AdamW with beta2 = 0.95, no weight decay, warm-up then
cosine decay, gradient clipping at 1; each setting is trained at learning rates spanning several decades.
z-loss (1e-4): Chowdhery et al., "PaLM" (2022). qk-layernorm: Dehghani et al., "Scaling Vision Transformers
to 22 Billion Parameters" (2023).

Regenerate the stored file (35 runs, about 13 minutes on a 2-core CPU; `--variants "NAME;NAME"` reruns only those
and adds them to an existing file made with the same setting)::

    python -m regviz.experiments.lm_stability --out notebooks/results/lm_lr_sweep.json

``--precision bfloat16`` runs every forward pass under ``torch.autocast`` (the chapter's
``lm_lr_sweep_bf16.json``: all five variants, about 40 minutes of emulated bfloat16), and larger, e.g. on a GPU: ``--scale gpu`` (wider, deeper model trained on the whole corpus for longer).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..device import resolve_device, seeded
from ..lm import fit_lm
from ..models import TinyLM
from ..text import lm_dataset, stdlib_corpus
from .stored import read_json, record, rows

LRS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)
# (name, z_loss, qk_norm): the paper's recipe has both on; each intervention is removed in turn, and a
# 100x stronger z-loss shows what it takes to move log Z in a run this short
RECIPE, NO_Z, STRONG_Z, NO_QK = ("qk-layernorm + z-loss 1e-4", "qk-layernorm, no z-loss", "qk-layernorm + z-loss 1e-2",
                                 "no qk-layernorm, z-loss 1e-4")
NEITHER = "no qk-layernorm, no z-loss"  # z-loss alone, without the qk-layernorm that already keeps runs stable
VARIANTS = ((RECIPE, 1e-4, True), (NO_Z, 0.0, True), (STRONG_Z, 1e-2, True), (NO_QK, 1e-4, False),
            (NEITHER, 0.0, False))
SCALES = {  # model and data size per scale
    "cpu": dict(d_model=64, n_layers=2, n_heads=4, block_size=64, n_train=4000, epochs=4, batch_size=32),
    "gpu": dict(d_model=256, n_layers=4, n_heads=8, block_size=128, n_train=None, epochs=10, batch_size=64),
}


PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16}  # bfloat16: forward passes under torch.autocast


@dataclass(frozen=True)
class LRRun:
    """One (variant, lr) run of the sweep: its setting and per-epoch ``val_loss``, ``train_loss``, ``log_z`` (mean
    validation log Z) and ``attn_logit_max`` (largest |attention logit|), why it stopped, its wall time."""

    variant: str
    lr: float
    z_loss: float
    qk_norm: bool
    val_loss: list[float]
    train_loss: list[float]
    log_z: list[float]
    attn_logit_max: list[float]
    stop_reason: str
    seconds: float


@dataclass
class LRSweep:
    """``run_sweep``'s result: the shared ``config`` and one ``LRRun`` per (variant, lr)."""

    config: dict
    runs: list[LRRun]

    def pick(self, variant: str, lr: float) -> LRRun:
        """The run of ``variant`` at ``lr`` (a ``ValueError`` naming what the sweep holds when there is none)."""
        for r in self.runs:
            if r.variant == variant and r.lr == lr:
                return r
        raise ValueError(f"no run of variant={variant!r} at lr={lr!r}; the sweep holds variants "
                         f"{sorted({r.variant for r in self.runs})} at lrs {sorted({r.lr for r in self.runs})}")


def run_sweep(*, lrs=LRS, variants=VARIANTS, scale: str = "cpu", seed: int = 0, device=None,
              progress: bool = True, precision: str = "float32") -> LRSweep:
    """Train one model per (variant, lr) and record each run's per-epoch losses, log Z and attention logits.

    Args:
        lrs: peak learning rates.  variants: (name, z_loss, qk_norm) triples.
        scale: "cpu" or "gpu" (see ``SCALES``).  seed: one seed for every run (same init, same batches).

    Returns:
        an ``LRSweep``: the config and one ``LRRun`` per (variant, lr), variants in the order given.
    """
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r}; allowed: {sorted(SCALES)}")
    cfg = SCALES[scale]
    dev = resolve_device(device)
    data, vocab = lm_dataset(stdlib_corpus(), block_size=cfg["block_size"], n_train=cfg["n_train"], device=dev)
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}; allowed: {sorted(PRECISIONS)}")
    recipe = dict(epochs=cfg["epochs"], batch_size=cfg["batch_size"], weight_decay=0.0, betas=(0.9, 0.95),
                  warmup_steps=50, schedule="cosine", grad_clip=1.0, n_eval_val=512)
    out = LRSweep(dict(scale=scale, seed=seed, device=str(dev), torch=torch.__version__,
                       threads=torch.get_num_threads(), train_chars=data.X_train.numel(),
                       val_chars=data.X_val.numel(), vocab=len(vocab),
                       model={k: cfg[k] for k in ("d_model", "n_layers", "n_heads", "block_size")},
                       n_train_blocks=len(data.X_train), **{k: v for k, v in recipe.items() if k != "betas"},
                       **({} if precision == "float32" else {"precision": precision}),  # stored files: float32
                       betas=list(recipe["betas"])), [])  # betas: a list, as JSON stores it
    for name, z, qk in variants:
        for lr in lrs:
            with seeded(seed, dev):  # same init as torch.manual_seed(seed), the caller's generator untouched
                model = TinyLM(len(vocab), cfg["block_size"], d_model=cfg["d_model"], n_layers=cfg["n_layers"],
                               n_heads=cfg["n_heads"], qk_norm=qk)
            t = time.perf_counter()
            h = fit_lm(model, data, lr=lr, z_loss=z, seed=seed, device=dev, autocast_dtype=PRECISIONS[precision],
                       **recipe)
            run = LRRun(name, lr, z, qk, h.val_loss, h.train_loss, h.extra["log_z"], h.extra["attn_logit_max"],
                        h.stop_reason, round(time.perf_counter() - t, 1))
            out.runs.append(run)
            if progress:
                print(f"{name:22s} lr {lr:<6g} final val {h.val_loss[-1]:.3f}  log Z {h.extra['log_z'][-1]:7.2f}  "
                      f"max attn logit {h.extra['attn_logit_max'][-1]:9.1f}  ({run.seconds} s)", flush=True)
    return out


def final_losses(sweep: LRSweep) -> dict[str, dict[float, float]]:
    """``{variant: {lr: final validation loss}}`` from a sweep (non-finite losses stay as they are)."""
    table: dict[str, dict[float, float]] = {}
    for r in sweep.runs:
        table.setdefault(r.variant, {})[r.lr] = r.val_loss[-1]
    return table


def save(sweep: LRSweep, path: str | Path) -> None:
    """Write a sweep as JSON (what ``load`` reads)."""
    Path(path).write_text(json.dumps({"config": sweep.config, "runs": [record(r) for r in sweep.runs]}, indent=1))


def load(path: str | Path) -> LRSweep:
    """A stored sweep (what ``save`` wrote)."""
    d = read_json(path)
    return LRSweep(d["config"], rows(LRRun, d["runs"], source=str(path)))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--scale", default="cpu", choices=sorted(SCALES))
    ap.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", default="float32", choices=sorted(PRECISIONS))
    ap.add_argument("--variants", default=None,
                    help="run only these variants (names separated by ';'), and add them to --out if it exists")
    args = ap.parse_args(argv)
    variants = VARIANTS
    if args.variants is not None:
        names = [n.strip() for n in args.variants.split(";")]
        unknown = sorted(set(names) - {v[0] for v in VARIANTS})
        if unknown:
            ap.error(f"--variants: {unknown} not known; allowed: {[v[0] for v in VARIANTS]}")
        variants = tuple(v for v in VARIANTS if v[0] in names)
    sweep = run_sweep(variants=variants, scale=args.scale, seed=args.seed, device=args.device,
                      precision=args.precision)
    out = Path(args.out)
    if args.variants is not None and out.exists():
        old = load(out)
        if {k: v for k, v in old.config.items() if k not in ("threads",)} != \
                {k: v for k, v in sweep.config.items() if k not in ("threads",)}:
            raise SystemExit(f"{out} was made with another configuration; write to a new file instead")
        old.runs = [r for r in old.runs if r.variant not in names] + sweep.runs
        sweep = old
    save(sweep, out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
