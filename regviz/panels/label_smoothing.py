"""Chapter 04 panel: label smoothing eps (and label noise) -> NLL/ECE curves, reliability diagram, confidences."""
from __future__ import annotations

import torch

from ..calibration import fit_recording, fit_temperature
from ..data import load_dataset
from ..device import resolve_device
from ..metrics import expected_calibration_error, reliability_data
from ..models import MLP
from ..plots import plot_confidence_hist, plot_reliability
from ..widgets import SliderPanel, choice_slider

EPS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
NOISE = (0.0, 0.2)
DEFAULT = dict(eps=0.1, label_noise=0.0)


def train_setting(*, eps: float, label_noise: float, epochs: int = 30, n_train: int = 1000, seed: int = 0,
                  device=None, lr: float = 3e-3) -> dict:
    """One MNIST-1D MLP run (128 x 2, AdamW, batch 64) with smoothing ``eps``.

    Returns:
        ``{"hist": History, "logits": (epochs, N_val, K) validation logits per epoch, "y": (N_val,) labels}``.
    """
    data = load_dataset("mnist1d", n_train=n_train, label_noise=label_noise, seed=seed, device=device)
    torch.manual_seed(seed)
    model = MLP(data.in_features, data.num_classes, width=128, depth=2)
    hist, logits = fit_recording(model, data, eps=eps, epochs=epochs, lr=lr, batch_size=64, seed=seed,
                                 device=device, progress=False)
    return {"hist": hist, "logits": torch.stack(logits), "y": data.y_val.cpu()}


def draw(result, fig, settings) -> None:
    """NLL and ECE per epoch | reliability diagram at the chosen epoch | confidence histogram."""
    hist, y = result["hist"], result["y"]
    epoch = min(settings.get("epochs", hist.num_epochs), hist.num_epochs)
    logits = result["logits"][epoch - 1]  # (N, K)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ep = hist.epochs
    ax1.plot(ep, hist.extra["val_nll"], "C0-", label="val NLL (no smoothing)")
    ax1.plot(ep, hist.train_loss, "C0--", label=f"train loss (eps={settings['eps']:g})")
    ax1b = ax1.twinx()
    ax1b.plot(ep, hist.extra["val_ece"], "C3-", label="val ECE")
    ax1b.set_ylabel("ECE", color="C3"); ax1b.set_ylim(0, max(0.5, max(hist.extra["val_ece"]) * 1.05))
    ax1.axvline(epoch, color="k", lw=0.8, ls=":")
    ax1.set_xlabel("epoch"); ax1.set_ylabel("loss"); ax1.set_title("loss and calibration per epoch", fontsize=10)
    ax1.legend(fontsize=7, loc="upper left"); ax1b.legend(fontsize=7, loc="upper right")
    if settings.get("calibrate") == "temperature":
        half = len(y) // 2  # fit T on one half of validation, judge on the other
        T = fit_temperature(logits[:half], y[:half])
        probs, yy, what = (logits[half:] / T).softmax(-1), y[half:], f"temperature T={T:.2f} (held-out half)"
    else:
        probs, yy, what = logits.softmax(-1), y, "raw softmax"
    ece = expected_calibration_error(probs, yy)
    plot_reliability(reliability_data(probs, yy), ax=ax2, ece=ece, title=what)
    plot_confidence_hist({"top-1 confidence": probs.max(-1).values}, ax=ax3, title="confidence on validation")
    acc = float((probs.argmax(-1) == yy).float().mean())
    ax3.axvline(acc, color="k", ls="--", lw=1, label=f"accuracy {acc:.2f}")
    ax3.legend(fontsize=8)
    fig.suptitle(f"epoch {epoch}: val acc {acc:.3f}, ECE {ece:.3f}, mean confidence "
                 f"{float(probs.max(-1).values.mean()):.3f}", fontsize=10)
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.14, top=0.86, wspace=0.38)


def panel(*, fast: bool = False, device=None, seed: int = 0) -> SliderPanel:
    """The chapter-04 panel. Opening it trains every eps on clean labels (one MLP each, under a second apiece on
    a 2-core CPU); noisy-label settings train on demand and are cached."""
    dev = resolve_device(device)
    max_epochs = 20 if fast else 25
    epoch_marks = (5, 10, 15, 20) if fast else (5, 10, 15, 25)

    def run(eps, label_noise):
        return train_setting(eps=eps, label_noise=label_noise, epochs=max_epochs, seed=seed, device=dev)

    def precompute():
        for e in EPS:
            yield {"eps": e, "label_noise": 0.0}, run(eps=e, label_noise=0.0)

    controls = {
        "eps": choice_slider("eps (smoothing)", EPS, DEFAULT["eps"]),
        "label_noise": choice_slider("label noise", NOISE, DEFAULT["label_noise"]),
        "calibrate": choice_slider("probabilities", ("raw", "temperature"), "raw"),
        "epochs": choice_slider("epoch shown", epoch_marks, epoch_marks[-1]),
    }
    return SliderPanel(run, controls, draw, view_only=("epochs", "calibrate"), precompute=precompute,
                       title="Label smoothing on MNIST-1D: a 128x2 MLP that memorises 1,000 training signals",
                       figsize=(13, 3.8))
