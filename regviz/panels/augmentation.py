"""Chapter 05 panel: mixup / CutMix alpha -> lambda histogram, mixed previews, accuracy and calibration."""
from __future__ import annotations

import torch

from ..calibration import fit_recording
from ..data import load_dataset
from ..device import resolve_device
from ..metrics import reliability_data
from ..mixing import cutmix, mixing_transform, mixup
from ..models import MLP
from ..plots import plot_gallery, plot_reliability
from ..widgets import SliderPanel, choice_slider

ALPHAS = (0.0, 0.1, 0.2, 0.4, 1.0, 2.0)  # 0 = no mixing
METHODS = ("mixup", "cutmix")
DEFAULT = dict(method="mixup", alpha=0.4)


def train_setting(*, method: str, alpha: float, epochs: int = 40, n_train: int = 300, seed: int = 0,
                  device=None, lr: float = 3e-3) -> dict:
    """One digits MLP run (256 x 2, AdamW, batch 64) with mixup or CutMix at ``alpha`` (0: plain training).

    Returns:
        ``{"hist": History, "logits": (N_val, K) final validation logits, "y": (N_val,) labels}``.
    """
    data = load_dataset("digits", n_train=n_train, seed=seed, device=device)
    torch.manual_seed(seed)
    model = MLP(data.in_features, data.num_classes, width=256, depth=2)
    bt = mixing_transform(method, alpha, data.num_classes) if alpha > 0 else None
    hist, logits = fit_recording(model, data, epochs=epochs, lr=lr, batch_size=64, seed=seed, device=device,
                                 progress=False, batch_transform=bt)
    return {"hist": hist, "logits": logits[-1], "y": data.y_val.cpu()}


def lambda_samples(alpha: float, n: int = 2000, seed: int = 0) -> torch.Tensor:
    """n draws of lambda ~ Beta(alpha, alpha) (all ones for alpha = 0: no mixing)."""
    if alpha == 0:
        return torch.ones(n)
    with torch.random.fork_rng(devices=[]):  # a private stream: the global generator is left as it was
        torch.manual_seed(seed)
        return torch.distributions.Beta(float(alpha), float(alpha)).sample((n,))


def preview(method: str, alpha: float, n: int = 8, seed: int = 0):
    """n mixed validation digits and a caption each ("a:0.70 b:0.30"), drawn with a fixed generator."""
    data = load_dataset("digits", n_train=50, n_val=n, device="cpu")
    X, y = data.X_val, data.y_val
    if alpha == 0:
        return X, [f"{int(k)}" for k in y]
    fn = mixup if method == "mixup" else cutmix
    Xm, t = fn(X, y, alpha, 10, generator=torch.Generator().manual_seed(seed))
    caps = []
    for row, k in zip(t, y):
        top = row.topk(2)
        caps.append(" ".join(f"{int(c)}:{float(w):.2f}" for w, c in zip(top.values, top.indices) if w > 0.005))
    return Xm, caps


def draw(result, fig, settings) -> None:
    """lambda histogram | mixed previews | reliability diagram of the trained model."""
    method, alpha = settings["method"], settings["alpha"]
    ax1, ax2, ax3 = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.4, 1]})
    lam = lambda_samples(alpha)
    ax1.hist(lam.numpy(), bins=20, range=(0, 1), color="C2")
    ax1.set_xlabel("lambda (weight of the image's own label)"); ax1.set_ylabel("draws")
    ax1.set_title(f"lambda ~ Beta({alpha:g}, {alpha:g})" if alpha else "alpha = 0: no mixing", fontsize=10)
    X, caps = preview(method, alpha)
    plot_gallery(X, labels=caps, nrow=4, ax=ax2, title=f"{method} previews (soft targets)" if alpha else "originals")
    probs, y = result["logits"].softmax(-1), result["y"]
    h = result["hist"]
    ece = h.extra["val_ece"][-1]
    plot_reliability(reliability_data(probs, y), ax=ax3, ece=ece, title="validation calibration")
    fig.suptitle(f"{method if alpha else 'no mixing'}, alpha={alpha:g}: train acc {h.train_acc[-1]:.3f}, "
                 f"val acc {h.val_acc[-1]:.3f}, val NLL {h.extra['val_nll'][-1]:.3f}, "
                 f"mean confidence {h.extra['val_conf'][-1]:.3f}", fontsize=10)
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.15, top=0.85, wspace=0.3)


def panel(*, fast: bool = False, device=None, seed: int = 0) -> SliderPanel:
    """The chapter-05 panel. Opening it trains mixup at every alpha (one small MLP each, about a second apiece on
    a 2-core CPU); CutMix settings train on demand (about a second) and are cached."""
    dev = resolve_device(device)
    epochs = 25 if fast else 30

    def run(method, alpha):
        if alpha == 0 and method != METHODS[0]:
            method = METHODS[0]  # alpha = 0 is the same plain run for both methods
        return train_setting(method=method, alpha=alpha, epochs=epochs, seed=seed, device=dev)

    def precompute():
        plain = None
        for a in ALPHAS:
            r = run("mixup", a)
            if a == 0:
                plain = r
            yield {"method": "mixup", "alpha": a}, r
        yield {"method": "cutmix", "alpha": 0.0}, plain

    controls = {
        "method": choice_slider("method", METHODS, DEFAULT["method"]),
        "alpha": choice_slider("alpha", ALPHAS, DEFAULT["alpha"]),
    }
    return SliderPanel(run, controls, draw, precompute=precompute,
                       title="Mixup and CutMix on digits: a 256x2 MLP trained on 300 images", figsize=(13, 4))
