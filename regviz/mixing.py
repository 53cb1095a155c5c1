"""Batch-level mixing with soft targets, from scratch, following torchvision's ``v2.MixUp`` / ``v2.CutMix``.

Mixup: Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond Empirical Risk Minimization" (ICLR 2018).
CutMix: Yun, Han, Oh, Chun, Choe & Yoo, "CutMix: Regularization Strategy to Train Strong Classifiers
with Localizable Features" (ICCV 2019).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .device import seeded
from .validate import check_choice


def _check(X: torch.Tensor, y: torch.Tensor, alpha: float, num_classes: int, image: bool) -> None:
    if not (isinstance(alpha, (int, float)) and alpha > 0):
        raise ValueError(f"alpha={alpha!r} must be a number > 0 (alpha=0 means: do not mix)")
    if not (isinstance(num_classes, int) and num_classes >= 2):
        raise ValueError(f"num_classes={num_classes!r} must be an int >= 2")
    if y.ndim != 1 or y.dtype.is_floating_point or len(y) != len(X):
        raise ValueError(f"y must be (N,) integer labels matching X's N={len(X)}; got {y.dtype} {tuple(y.shape)}")
    if image and X.ndim != 4:
        raise ValueError(f"cutmix needs images X of shape (N, C, H, W), got {tuple(X.shape)}")


def sample_lambda(alpha: float, generator: torch.Generator | None = None) -> float:
    """One draw of lambda ~ Beta(alpha, alpha).

    With ``generator=None`` it draws from torch's global generator exactly as torchvision's MixUp/CutMix do
    (so with the same ``torch.manual_seed`` both give the same lambda). A CPU ``generator`` seeds a private
    stream instead, so one seed reproduces a run without touching the global state.
    """
    dist = torch.distributions.Beta(torch.tensor([float(alpha)]), torch.tensor([float(alpha)]))
    if generator is None:
        return float(dist.sample(()))
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with seeded(seed):  # a private stream: the caller's global generator is left as it was
        return float(dist.sample(()))


def _mix_targets(y: torch.Tensor, num_classes: int, lam: float, dtype: torch.dtype) -> torch.Tensor:
    one_hot = F.one_hot(y, num_classes).to(dtype)  # (N, K)
    return lam * one_hot + (1.0 - lam) * one_hot.roll(1, 0)  # row i is paired with row i-1


def mixup(X: torch.Tensor, y: torch.Tensor, alpha: float, num_classes: int,
          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup of a batch: ``lam * X + (1 - lam) * X.roll(1)``, targets mixed with the same ``lam``.

    One ``lam ~ Beta(alpha, alpha)`` per batch and each example paired with its neighbour (as ``v2.MixUp``),
    so the batch must already be shuffled (``regviz.fit`` shuffles). Runs on ``X``'s device; inputs unchanged.

    Args:
        X: (N, ...) float inputs.  y: (N,) int64 labels.
        alpha: Beta parameter, > 0 (small alpha: lam near 0 or 1, mild mixing; alpha=1: lam uniform).
        num_classes: K.
        generator: optional CPU ``torch.Generator`` for lam (see ``sample_lambda``).

    Returns:
        ``(X_mixed (N, ...), targets (N, K))``; each target row sums to 1.
    """
    _check(X, y, alpha, num_classes, image=False)
    lam = sample_lambda(alpha, generator)
    X_mixed = lam * X + (1.0 - lam) * X.roll(1, 0)
    return X_mixed, _mix_targets(y, num_classes, lam, X.dtype if X.dtype.is_floating_point else torch.float32)


def cutmix_box(H: int, W: int, lam: float, generator: torch.Generator | None = None) -> tuple[int, int, int, int]:
    """The box CutMix pastes: centre uniform over the image, sides ``sqrt(1 - lam)`` of H and W, clipped.

    Same arithmetic and draw order as ``v2.CutMix`` (centre x, then centre y). Returns ``(x1, y1, x2, y2)``.
    """
    r_x = int(torch.randint(W, size=(1,), generator=generator))
    r_y = int(torch.randint(H, size=(1,), generator=generator))
    r = 0.5 * math.sqrt(1.0 - lam)
    half_w, half_h = int(r * W), int(r * H)
    return max(r_x - half_w, 0), max(r_y - half_h, 0), min(r_x + half_w, W), min(r_y + half_h, H)


def cutmix(X: torch.Tensor, y: torch.Tensor, alpha: float, num_classes: int,
           generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """CutMix of a batch: a box of ``X.roll(1)`` pasted into each image; targets weighted by area.

    ``lam ~ Beta(alpha, alpha)`` sets the box size; the target weight of the image's own label is the area
    that is left, ``1 - box_area / (H * W)`` (the box is clipped at the border, so it can be smaller than
    asked). One box per batch, neighbours paired, as ``v2.CutMix``: shuffle the batch first.

    Args:
        X: (N, C, H, W) images.  y: (N,) int64 labels.  alpha: Beta parameter, > 0.  num_classes: K.
        generator: optional CPU ``torch.Generator`` (lam and the box centre).

    Returns:
        ``(X_mixed (N, C, H, W), targets (N, K))``; each target row sums to 1.
    """
    _check(X, y, alpha, num_classes, image=True)
    H, W = X.shape[-2:]
    lam = sample_lambda(alpha, generator)
    x1, y1, x2, y2 = cutmix_box(H, W, lam, generator)
    X_mixed = X.clone()
    X_mixed[..., y1:y2, x1:x2] = X.roll(1, 0)[..., y1:y2, x1:x2]
    lam_area = 1.0 - (x2 - x1) * (y2 - y1) / (H * W)
    return X_mixed, _mix_targets(y, num_classes, lam_area, X.dtype)


def mixing_transform(method: str, alpha: float, num_classes: int):
    """A ``batch_transform(X, y, generator) -> (X, targets)`` for ``regviz.fit``.

    Args:
        method: ``"mixup"``, ``"cutmix"``, or ``"either"`` (mixup or cutmix with probability 1/2 per batch).
        alpha: Beta parameter, > 0.  num_classes: K.

    ``fit``'s cross-entropy takes the soft targets it returns; ``fit`` records ``transform.config``.
    """
    check_choice("method", method, ("mixup", "cutmix", "either"))
    if not (isinstance(alpha, (int, float)) and alpha > 0):
        raise ValueError(f"alpha={alpha!r} must be a number > 0")

    def transform(X, y, generator=None):
        m = method
        if m == "either":
            m = "mixup" if float(torch.rand(1, generator=generator)) < 0.5 else "cutmix"
        return (mixup if m == "mixup" else cutmix)(X, y, alpha, num_classes, generator)

    transform.__name__ = f"{method}_alpha{alpha:g}"
    transform.config = {"name": "mixing", "method": method, "alpha": float(alpha)}  # recorded by fit
    return transform
