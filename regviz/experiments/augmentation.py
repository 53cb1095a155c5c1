"""Chapter 05: one digits MLP trained with mixup or CutMix at one alpha, with what the panel shows beside it:
draws of the mixing weight lambda and a few mixed images.

Zhang et al., "mixup: Beyond Empirical Risk Minimization" (ICLR 2018); Yun et al., "CutMix" (ICCV 2019).
"""
from __future__ import annotations

import torch

from ..calibration import fit_recording
from ..data import load_dataset
from ..device import seeded
from ..mixing import cutmix, mixing_transform, mixup
from ..models import MLP
from ..validate import check_choice, check_number

ALPHAS = (0.0, 0.1, 0.2, 0.4, 1.0, 2.0)  # 0 = no mixing
METHODS = ("mixup", "cutmix")
DEFAULT = dict(method="mixup", alpha=0.4)


def train_setting(*, method: str, alpha: float, epochs: int = 40, n_train: int = 300, seed: int = 0,
                  device=None, lr: float = 3e-3) -> dict:
    """One digits MLP run (256 x 2, AdamW, batch 64) with mixup or CutMix at ``alpha`` (0: plain training).

    Returns:
        ``{"hist": History, "logits": (N_val, K) final validation logits, "y": (N_val,) labels}``.
    """
    check_choice("method", method, METHODS)
    check_number("alpha", alpha)
    data = load_dataset("digits", n_train=n_train, seed=seed, device=device)
    bt = mixing_transform(method, alpha, data.num_classes) if alpha > 0 else None
    with seeded(seed, device):
        model = MLP(data.in_features, data.num_classes, width=256, depth=2)
        hist, logits = fit_recording(model, data, epochs=epochs, lr=lr, batch_size=64, seed=seed, device=device,
                                     progress=False, batch_transform=bt)
    return {"hist": hist, "logits": logits[-1], "y": data.y_val.cpu()}


def lambda_samples(alpha: float, n: int = 2000, seed: int = 0) -> torch.Tensor:
    """n draws of lambda ~ Beta(alpha, alpha) (all ones for alpha = 0: no mixing)."""
    check_number("alpha", alpha)
    if alpha == 0:
        return torch.ones(n)
    with seeded(seed):  # a private stream: the global generator is left as it was
        return torch.distributions.Beta(float(alpha), float(alpha)).sample((n,))


def preview(method: str, alpha: float, n: int = 8, seed: int = 0):
    """n mixed validation digits and a caption each ("a:0.70 b:0.30"), drawn with a fixed generator."""
    check_choice("method", method, METHODS)
    data = load_dataset("digits", n_train=50, n_val=n, device="cpu")
    X, y = data.X_val, data.y_val
    if alpha == 0:
        return X, [f"{int(k)}" for k in y]
    fn = mixup if method == "mixup" else cutmix
    Xm, t = fn(X, y, alpha, 10, generator=torch.Generator().manual_seed(seed))
    caps = []
    for row in t:
        top = row.topk(2)
        caps.append(" ".join(f"{int(c)}:{float(w):.2f}" for w, c in zip(top.values, top.indices) if w > 0.005))
    return Xm, caps


def panel_setting(*, method: str, alpha: float, epochs: int = 40, seed: int = 0, device=None) -> dict:
    """``train_setting`` plus the panel's side pictures: ``"lambdas"`` (2,000 draws) and ``"preview"`` ``(X, captions)``.

    alpha = 0 is the same plain run for both methods (trained as mixup)."""
    run_method = METHODS[0] if alpha == 0 else method
    res = train_setting(method=run_method, alpha=alpha, epochs=epochs, seed=seed, device=device)
    return {**res, "lambdas": lambda_samples(alpha), "preview": preview(method, alpha)}
