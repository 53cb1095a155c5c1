"""Small models for the course: an MLP and a small CNN (1-D or 2-D).

Both take ``p`` (dropout probability) so every chapter can switch dropout on with one argument.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .layers import Dropout, DropPath
from .validate import check_int, check_probability


class MLP(nn.Module):
    """Flatten -> depth x [Linear, ReLU, Dropout(p)] -> Linear.

    Args:
        in_features: product of the input shape (e.g. 64 for 8x8 digits); input may be flat or image-shaped.
        num_classes: number of output logits.
        width: hidden units per layer.
        depth: number of hidden layers (0 gives logistic regression).
        p: dropout probability after each hidden ReLU (0 = no dropout).
    """

    def __init__(self, in_features: int, num_classes: int, width: int = 256, depth: int = 2, p: float = 0.0):
        super().__init__()
        check_int("in_features", in_features)
        check_int("num_classes", num_classes)
        check_int("width", width)
        check_int("depth", depth, low=0)
        check_probability("p", p)
        layers: list[nn.Module] = [nn.Flatten()]
        d = in_features
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.ReLU(), Dropout(p)]
            d = width
        layers.append(nn.Linear(d, num_classes))
        self.net = nn.Sequential(*layers)
        self.in_features = in_features
        self.hparams = dict(in_features=in_features, num_classes=num_classes, width=width, depth=depth, p=p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *input_shape) -> (B, num_classes) logits."""
        return self.net(x)


class CNN(nn.Module):
    """Two conv blocks (conv, ReLU, max-pool), then a head: global average pool + dropout + linear, or (with
    ``hidden``) flatten + linear + ReLU + dropout + linear, the classic two-conv benchmark CNN.

    Works for 1-D signals (input_shape ``(L,)`` or ``(C, L)``, e.g. MNIST-1D) and images ``(C, H, W)``.

    Args:
        input_shape: the shape of one example, without the batch dimension.
        num_classes: number of logits.
        channels: channels of the first block (the second has twice as many).
        p: dropout probability before the last linear layer.
        hidden: None = global-average-pool head; an int = flatten the last feature map into a hidden layer
            of that width (more parameters, much higher accuracy on 28x28 images).
    """

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, channels: int = 32, p: float = 0.0,
                 hidden: int | None = None):
        super().__init__()
        if len(input_shape) not in (1, 2, 3):
            raise ValueError(f"input_shape={input_shape!r}: use (L,), (C, L) or (C, H, W)")
        check_int("num_classes", num_classes)
        check_int("channels", channels)
        check_probability("p", p)
        self.input_shape = tuple(input_shape)
        if hidden is not None:
            check_int("hidden", hidden)
        self.hparams = dict(input_shape=list(input_shape), num_classes=num_classes, channels=channels, p=p,
                            hidden=hidden)
        two_d = len(input_shape) == 3
        conv, pool = (nn.Conv2d, nn.MaxPool2d) if two_d else (nn.Conv1d, nn.MaxPool1d)
        c_in = 1 if len(input_shape) == 1 else input_shape[0]
        c = channels
        self.features = nn.Sequential(
            conv(c_in, c, 3, padding=1), nn.ReLU(), pool(2),
            conv(c, 2 * c, 3, padding=1), nn.ReLU(), pool(2),
        )
        self.flatten = hidden is not None
        if self.flatten:
            spatial = [n // 4 for n in (input_shape[-2:] if two_d else input_shape[-1:])]  # two 2x pools
            if min(spatial) < 1:
                raise ValueError(f"input_shape={input_shape!r} is too small for two 2x pools and a flatten head")
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * c * math.prod(spatial), hidden), nn.ReLU(),
                                      Dropout(p), nn.Linear(hidden, num_classes))
        else:
            self.head = nn.Sequential(nn.Flatten(), Dropout(p), nn.Linear(2 * c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *input_shape) -> (B, num_classes) logits."""
        if len(self.input_shape) == 1:
            x = x.unsqueeze(1)  # (B, L) -> (B, 1, L)
        h = self.features(x)  # (B, 2c, H/4, W/4)
        if not self.flatten:
            h = h.mean(dim=tuple(range(2, h.ndim)))  # global average pool: (B, 2c)
        return self.head(h)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters (shared tensors counted once, as ``model.parameters()`` yields them)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class ResidualMLP(nn.Module):
    """Linear stem -> ``blocks`` x [x + DropPath(Linear(ReLU(Linear(LayerNorm(x)))))] -> LayerNorm -> Linear.

    Stochastic depth (Huang et al., ECCV 2016) with their linear decay rule: block l of L (1-based) drops its
    residual branch with probability ``drop_path * l / L`` in training mode.

    Args:
        in_features, num_classes: as ``MLP``.  width: residual stream width.  blocks: number of residual blocks.
        drop_path: drop probability of the last block, in [0, 1).
    """

    def __init__(self, in_features: int, num_classes: int, width: int = 128, blocks: int = 4, drop_path: float = 0.0):
        super().__init__()
        for name, v in (("in_features", in_features), ("num_classes", num_classes), ("width", width),
                        ("blocks", blocks)):
            check_int(name, v)
        check_probability("drop_path", drop_path)
        self.stem = nn.Sequential(nn.Flatten(), nn.Linear(in_features, width))
        self.branches = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
            for _ in range(blocks))
        self.drops = nn.ModuleList(DropPath(drop_path * (i + 1) / blocks) for i in range(blocks))
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, num_classes))
        self.hparams = dict(in_features=in_features, num_classes=num_classes, width=width, blocks=blocks,
                            drop_path=drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *input_shape) -> (B, num_classes) logits."""
        h = self.stem(x)  # (B, width)
        for branch, drop in zip(self.branches, self.drops):
            h = h + drop(branch(h))
        return self.head(h)
