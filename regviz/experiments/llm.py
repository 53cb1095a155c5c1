"""Chapter 07: a tiny character LM in the chapter's overfitting setting, at one z-loss weight and dropout p.

z-loss: Shazeer et al., Mesh-TensorFlow (2018); Chowdhery et al., "PaLM" (2022). Dropout in transformers:
Vaswani et al., "Attention Is All You Need" (NeurIPS 2017).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from ..device import resolve_device, seeded
from ..history import History
from ..lm import fit_lm
from ..models import TinyLM
from ..text import lm_dataset, stdlib_corpus
from ..validate import check_number, check_probability

Z_COEFS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
PS = (0.0, 0.1, 0.2)
N_EVAL_VAL = 256  # validation blocks scored per epoch (8,192 characters): keeps a new setting near 1 s


@functools.lru_cache(maxsize=4)
def _data(device_str: str, block_size: int, n_train: int):
    return lm_dataset(stdlib_corpus(), block_size=block_size, n_train=n_train, device=device_str)


@dataclass(frozen=True)
class LMRun:
    """One chapter-07 setting: its run (``history``) and the same run without z-loss (``reference``)."""

    history: History
    reference: History


def train_lm(*, z_loss: float = 0.0, p: float = 0.0, fast: bool = False, device=None, seed: int = 0,
             lr: float = 3e-3) -> History:
    """One tiny LM run (1 layer, d_model 32) in the chapter's overfitting setting (200 blocks of 32 characters),
    dropout ``p`` at the embedding, attention and residual sites."""
    check_number("z_loss", z_loss)
    check_probability("p", p)
    dev = resolve_device(device)
    data, vocab = _data(str(dev), 32, 200)
    with seeded(seed, dev):
        # one layer: a new setting trains in about a second on a laptop CPU (two layers took 2-3 s)
        model = TinyLM(len(vocab), 32, d_model=32, n_layers=1, n_heads=4, p=p)
        return fit_lm(model, data, epochs=12 if fast else 15, lr=lr, z_loss=z_loss, batch_size=32,
                      seed=seed, device=dev, n_eval_train=128, n_eval_val=N_EVAL_VAL)


def with_reference(*, z_loss: float, p: float, fast: bool = False, device=None, seed: int = 0) -> LMRun:
    """``train_lm(z_loss, p)`` and its ``train_lm(0, p)`` reference; runs are cached, so the reference trains once
    per p."""
    return LMRun(_cached_lm(z_loss, p, fast, str(resolve_device(device)), seed),
                 _cached_lm(0.0, p, fast, str(resolve_device(device)), seed))


@functools.lru_cache(maxsize=64)
def _cached_lm(z_loss, p, fast, device, seed) -> History:
    return train_lm(z_loss=z_loss, p=p, fast=fast, device=device, seed=seed)
