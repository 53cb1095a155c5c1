"""Image augmentation: torchvision ``transforms.v2`` pipelines, and a per-image-random version that runs batched.

A v2 transform called on a batch (N, C, H, W) draws ONE set of random parameters for the whole batch.
``BatchAugment`` draws them per image and applies them in one ``grid_sample`` call on the batch's device.
Random erasing / Cutout: Zhong et al., "Random Erasing Data Augmentation" (AAAI 2020); DeVries & Taylor,
"Improved Regularization of CNNs with Cutout" (2017). RandAugment: Cubuk et al. (CVPR-W 2020);
TrivialAugment: Mueller & Hutter (ICCV 2021).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from .validate import check_choice, check_number

POLICIES = ("standard", "randaugment", "trivialaugment", "rotate180")


def pipeline(name: str = "standard", *, size: int = 8, padding: int = 1, degrees: float = 15.0,
             jitter: float = 0.3, erase_p: float = 0.5) -> v2.Compose:
    """A ``torchvision.transforms.v2`` pipeline for one (C, H, W) float image in [0, 1].

    Args:
        name: ``"standard"`` (crop with padding, rotation, brightness/contrast jitter, random erasing),
            ``"randaugment"`` (2 ops, magnitude 9), ``"trivialaugment"`` (TrivialAugmentWide), or
            ``"rotate180"`` (a label-destroying one on digits: it turns a 6 into a 9).
        size: image side (for the crop).  padding, degrees, jitter, erase_p: strengths of the standard one.

    Returns:
        A ``v2.Compose``; call it on one image. The automatic policies work on uint8, so they are wrapped
        in conversions to uint8 and back.
    """
    check_choice("name", name, POLICIES)
    if name == "standard":
        return v2.Compose([
            v2.RandomCrop(size, padding=padding),
            v2.RandomRotation(degrees),
            v2.ColorJitter(brightness=jitter, contrast=jitter),
            v2.RandomErasing(p=erase_p, scale=(0.05, 0.2), value=0.0),
        ])
    if name == "rotate180":
        return v2.Compose([v2.RandomRotation((180, 180))])
    policy = v2.RandAugment(num_ops=2, magnitude=9) if name == "randaugment" else v2.TrivialAugmentWide()
    return v2.Compose([v2.ToDtype(torch.uint8, scale=True), policy, v2.ToDtype(torch.float32, scale=True)])


def apply_per_image(transform, X: torch.Tensor) -> torch.Tensor:
    """Call ``transform`` on each image separately (each gets its own random draw). X: (N, C, H, W)."""
    return torch.stack([transform(x) for x in X])


def _uniform(n: int, lo: float, hi: float, g) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


class BatchAugment:
    """Random rotation, scaling, translation, (optional) horizontal flip and random erasing, per image, batched.

    Every image gets its own random parameters (drawn on the CPU from ``generator``), then the whole batch
    is warped with ONE ``F.affine_grid`` + ``F.grid_sample`` call on its device. Use it as ``regviz.fit``'s
    ``batch_transform``.

    Args:
        degrees: rotation angle uniform in [-degrees, degrees].
        shift: translation uniform in [-shift, shift] pixels (each axis).
        scale: zoom factor uniform in [1 - scale, 1 + scale].
        flip: flip horizontally with probability 1/2 (wrong for digits and text: see the chapter).
        erase_p: probability of zeroing one random rectangle covering ``erase_area`` of the image (Cutout).
        erase_area: (min, max) fraction of the image erased.
    """

    def __init__(self, *, degrees: float = 15.0, shift: float = 1.0, scale: float = 0.1, flip: bool = False,
                 erase_p: float = 0.0, erase_area: tuple[float, float] = (0.05, 0.2)):
        check_number("degrees", degrees)
        check_number("shift", shift)
        check_number("scale", scale, high=1.0, high_inclusive=False)
        check_number("erase_p", erase_p, high=1.0)
        if not (len(erase_area) == 2 and 0 < erase_area[0] <= erase_area[1] <= 1):
            raise ValueError(f"erase_area={erase_area!r} must satisfy 0 < min <= max <= 1")
        self.degrees, self.shift, self.scale, self.flip = degrees, shift, scale, flip
        self.erase_p, self.erase_area = erase_p, erase_area

    def __repr__(self) -> str:
        return (f"BatchAugment(degrees={self.degrees}, shift={self.shift}, scale={self.scale}, flip={self.flip}, "
                f"erase_p={self.erase_p})")

    def warp(self, X: torch.Tensor, angle: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor,
             zoom: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
        """Warp each image with its own parameters (bilinear, zeros outside).

        Args:
            X: (N, C, H, W).  angle: (N,) degrees, counter-clockwise as ``v2.functional.rotate``
                (``v2.functional.affine`` counts clockwise: it matches ``affine(angle=-angle, ...)``).
            tx, ty: (N,) shifts in pixels (right, down).  zoom: (N,) magnification.  flip: (N,) bool.

        Returns:
            (N, C, H, W) warped images; ``X`` is not modified.
        """
        N, _, H, W = X.shape
        a = torch.deg2rad(angle.float())
        c, s = torch.cos(a), torch.sin(a)
        # forward warp (pixels, y down): flip, rotate counter-clockwise, zoom, shift. affine_grid wants the
        # inverse (output point -> input point), in coordinates normalised to [-1, 1]: D = diag(2/W, 2/H).
        r_inv = torch.stack([torch.stack([c, -s], 1), torch.stack([s, c], 1)], 1)  # (N, 2, 2)
        fl = torch.ones(N, 2, 1)
        fl[flip, 0] = -1.0
        m = fl * r_inv / zoom.view(N, 1, 1)  # (N, 2, 2)
        D = torch.tensor([2.0 / W, 2.0 / H])
        m_n = D.view(1, 2, 1) * m / D.view(1, 1, 2)  # D m D^-1
        t_n = -(m_n @ (D * torch.stack([tx, ty], 1).float()).unsqueeze(-1))  # (N, 2, 1)
        theta = torch.cat([m_n, t_n], 2).to(X.device, X.dtype)  # (N, 2, 3)
        grid = F.affine_grid(theta, list(X.shape), align_corners=False)
        return F.grid_sample(X, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def erase(self, X: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Zero one random rectangle per image, each with probability ``erase_p``. X: (N, C, H, W)."""
        N, _, H, W = X.shape
        g = generator
        area = _uniform(N, *self.erase_area, g) * H * W
        ratio = torch.exp(_uniform(N, math.log(0.5), math.log(2.0), g))
        h = (area * ratio).sqrt().round().clamp(1, H)
        w = (area / ratio).sqrt().round().clamp(1, W)
        top = (torch.rand(N, generator=g) * (H - h + 1)).floor()
        left = (torch.rand(N, generator=g) * (W - w + 1)).floor()
        on = torch.rand(N, generator=g) < self.erase_p
        rows = torch.arange(H).view(1, H, 1)
        cols = torch.arange(W).view(1, 1, W)
        box = ((rows >= top.view(-1, 1, 1)) & (rows < (top + h).view(-1, 1, 1))
               & (cols >= left.view(-1, 1, 1)) & (cols < (left + w).view(-1, 1, 1)) & on.view(-1, 1, 1))
        return X.masked_fill(box.unsqueeze(1).to(X.device), 0.0)  # (N, 1, H, W) broadcast over channels

    def __call__(self, X: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None):
        """``(X (N, C, H, W), y) -> (augmented X, y)``: the signature ``regviz.fit`` expects."""
        if X.ndim != 4:
            raise ValueError(f"BatchAugment needs images (N, C, H, W), got shape {tuple(X.shape)}")
        N = X.shape[0]
        g = generator
        angle = _uniform(N, -self.degrees, self.degrees, g)
        tx, ty = _uniform(N, -self.shift, self.shift, g), _uniform(N, -self.shift, self.shift, g)
        zoom = _uniform(N, 1 - self.scale, 1 + self.scale, g)
        flip = (torch.rand(N, generator=g) < 0.5) if self.flip else torch.zeros(N, dtype=torch.bool)
        out = self.warp(X, angle, tx, ty, zoom, flip)
        if self.erase_p > 0:
            out = self.erase(out, g)
        return out, y
