"""Chapter 07 panel: z-loss coefficient and dropout p of a tiny character LM -> loss curves and the log Z trace.

z-loss: Shazeer et al., Mesh-TensorFlow (2018); Chowdhery et al., "PaLM" (2022). Dropout in transformers:
Vaswani et al., "Attention Is All You Need" (NeurIPS 2017).
"""
from __future__ import annotations

import functools

import torch

from ..history import History
from ..lm import TinyLM, fit_lm
from ..text import lm_dataset, stdlib_corpus
from ..widgets import SliderPanel, choice_slider, log_slider

Z_COEFS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
PS = (0.0, 0.1, 0.2)


N_EVAL_VAL = 256  # validation blocks scored per epoch (8,192 characters): keeps a new setting near 1 s


@functools.lru_cache(maxsize=4)
def _data(device_str: str, block_size: int, n_train: int):
    return lm_dataset(stdlib_corpus(), block_size=block_size, n_train=n_train, device=device_str)


def train_lm(*, z_loss_coef: float = 0.0, p: float = 0.0, fast: bool = False, device=None, seed: int = 0,
             lr: float = 3e-3) -> History:
    """One tiny LM run (1 layer, d_model 32) in the chapter's overfitting setting (200 blocks of 32 characters),
    dropout ``p`` at the embedding, attention and residual sites."""
    from ..device import resolve_device
    dev = resolve_device(device)
    data, vocab = _data(str(dev), 32, 200)
    torch.manual_seed(seed)
    # one layer: a new setting trains in about a second on a laptop CPU (two layers took 2-3 s)
    model = TinyLM(len(vocab), 32, d_model=32, n_layers=1, n_heads=4, p_embd=p, p_attn=p, p_resid=p)
    return fit_lm(model, data, epochs=12 if fast else 15, lr=lr, z_loss_coef=z_loss_coef, batch_size=32, seed=seed,
                  device=dev, n_eval_train=128, n_eval_val=N_EVAL_VAL)


def plot_lm(result: dict, fig, settings: dict) -> None:
    """Left: train/val loss of this setting and of z-loss 0 at the same p. Right: mean validation log Z."""
    h, ref = result["hist"], result["reference"]
    ax, ax2 = fig.subplots(1, 2)
    for hh, colour, name in ((ref, "grey", "z-loss 0"), (h, "C0", f"z-loss {settings['z_loss_coef']:g}")):
        ax.plot(hh.epochs, hh.train_loss, "--", color=colour, label=f"{name}: train")
        ax.plot(hh.epochs, hh.val_loss, "-", color=colour, label=f"{name}: validation")
        ax2.plot(hh.epochs, hh.extra["log_z"], "-", color=colour, label=name)
    ax.set_xlabel("epoch"); ax.set_ylabel("cross-entropy (nats/char)")
    ax.set_title(f"p={settings['p']:g}: val loss best {min(h.val_loss):.3f}, final {h.val_loss[-1]:.3f}", fontsize=9)
    ax.legend(fontsize=7); ax.grid(alpha=0.3)
    ax2.axhline(0, color="k", lw=0.8)
    ax2.set_xlabel("epoch"); ax2.set_ylabel("mean log Z on validation")
    ax2.set_title(f"final log Z: {h.extra['log_z'][-1]:.2f} (z-loss 0: {ref.extra['log_z'][-1]:.2f})", fontsize=9)
    ax2.legend(fontsize=7); ax2.grid(alpha=0.3)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.9, wspace=0.25)  # fixed: tight_layout costs ~0.3 s


def panel(*, fast: bool = False, device=None, seed: int = 0) -> SliderPanel:
    """z-loss coefficient (log scale, with 0) and dropout p; each setting trains once and is cached."""
    runs: dict[tuple, History] = {}

    def hist(z, p):
        if (z, p) not in runs:
            runs[(z, p)] = train_lm(z_loss_coef=z, p=p, fast=fast, device=device, seed=seed)
        return runs[(z, p)]

    def run(z_loss_coef, p):
        return {"hist": hist(z_loss_coef, p), "reference": hist(0.0, p)}

    def precompute():
        # the whole z-loss axis at the default p: the slider the chapter is about redraws from the cache
        for z in Z_COEFS:
            yield {"z_loss_coef": z, "p": 0.1}, run(z, 0.1)

    controls = {"z_loss_coef": log_slider("z-loss coefficient", Z_COEFS, 1e-2),
                "p": choice_slider("dropout p (all sites)", PS, 0.1)}
    return SliderPanel(run, controls, plot_lm, precompute=precompute,
                       title="z-loss pins log Z; dropout narrows the train/validation gap")
