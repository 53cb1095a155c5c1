"""Regularising layers written out: inverted dropout, DropPath, DropConnect, MC dropout.

Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from Overfitting", JMLR 2014
(other papers cited where each layer is defined).
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Iterator

import torch
from torch import nn

from .device import seeded
from .validate import check_int, check_probability


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run a block with ``model`` in eval mode (dropout off, BatchNorm on running statistics), then put every
    submodule back in the mode it had, even if the block raises."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, was in modes:
            m.training = was


def _check_p(p) -> None:
    if isinstance(p, torch.Tensor):
        return  # one value per model inside a stacked sweep; checked where it was built
    check_probability("p", p)


def dropout(x: torch.Tensor, p: float | torch.Tensor, training: bool = True,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale survivors by 1/(1-p).

    Scaling at training time keeps E[output] = input, so inference needs no change at all
    (the 2014 paper instead scaled the weights by 1-p at test time; same expectation).

    Args:
        x: any shape.
        p: drop probability in [0, 1) (a tensor is allowed, e.g. one value per model in a stacked sweep).
        training: if False, return ``x`` unchanged.
        generator: optional ``torch.Generator`` on ``x``'s device, for reproducible masks.

    Returns:
        A tensor shaped like ``x`` (``x`` itself is not modified).
    """
    _check_p(p)
    if not training:
        return x
    if generator is None:
        u = torch.rand_like(x)
    else:
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x * (u >= p) / (1.0 - p)


class Dropout(nn.Module):
    """``nn.Dropout`` written with ``dropout`` above; ``p`` is one float, fixed when the layer is built."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        _check_p(p)
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        return dropout(x, self.p, True)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# ---------------------------------------------------------------- stochastic depth / DropPath

def drop_path(x: torch.Tensor, p: float = 0.0, training: bool = False, *, scale_by_keep: bool = True,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Stochastic depth per sample (Huang et al., "Deep Networks with Stochastic Depth", ECCV 2016).

    Zero a whole sample's tensor (a residual branch's output) with probability ``p`` and scale the kept
    ones by 1/(1-p); use as ``x + drop_path(branch(x), p, training)``. Same as timm's ``drop_path`` and
    ``torchvision.ops.stochastic_depth(x, p, mode="row")``. The branch is still computed for dropped samples.

    Args:
        x: (B, ...) -- one mask value per row.
        p: drop probability in [0, 1).  training: if False, return ``x``.
        generator: optional ``torch.Generator`` on ``x``'s device.

    Returns:
        A tensor shaped like ``x``.
    """
    _check_p(p)
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep, generator=generator)  # (B, 1, ...)
    if scale_by_keep:
        mask.div_(keep)
    return x * mask


class DropPath(nn.Module):
    """``drop_path`` as a layer (timm's ``DropPath``): active in training mode only."""

    def __init__(self, p: float = 0.0, scale_by_keep: bool = True):
        super().__init__()
        _check_p(p)
        self.p, self.scale_by_keep = float(p), scale_by_keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.p, self.training, scale_by_keep=self.scale_by_keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# ---------------------------------------------------------------- DropConnect

class DropConnect(nn.Linear):
    """A ``Linear`` layer whose weights (not outputs) are dropped in training mode.

    Wan et al., "Regularization of Neural Networks using DropConnect", ICML 2013. Simplification used here:
    one weight mask per forward pass (the paper draws one per example) with inverted scaling 1/(1-p), and at
    inference the plain mean weights (the paper's inference step moment-matches a Gaussian instead).
    Biases are not dropped.

    Args:
        in_features, out_features, bias: as ``nn.Linear``.  p: drop probability in [0, 1).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, p: float = 0.5):
        super().__init__(in_features, out_features, bias)
        _check_p(p)
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_features) -> (B, out_features)."""
        weight = dropout(self.weight, self.p, self.training and self.p > 0)
        return nn.functional.linear(x, weight, self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", p={self.p}"


# ---------------------------------------------------------------- MC dropout

DROPOUT_TYPES = (nn.modules.dropout._DropoutNd, Dropout, DropPath, DropConnect)


def enable_mc_dropout(model: nn.Module) -> list[nn.Module]:
    """Put ``model`` in eval mode, then switch ONLY its dropout-like modules back to training mode.

    ``model.train()`` would also make BatchNorm use (and update) batch statistics; MC dropout wants the
    trained BatchNorm and random dropout masks.

    Returns:
        The modules switched on (``DROPOUT_TYPES``).
    """
    model.eval()
    on = [m for m in model.modules() if isinstance(m, DROPOUT_TYPES)]
    for m in on:
        m.train()
    return on


@torch.no_grad()
def mc_dropout_predict(model: nn.Module, X: torch.Tensor, *, num_samples: int = 50,
                       seed: int | None = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Monte Carlo dropout (Gal & Ghahramani, "Dropout as a Bayesian Approximation", ICML 2016).

    ``num_samples`` stochastic forward passes with only dropout active; the model's modes are restored after.

    Args:
        X: (N, *input_shape).  num_samples: >= 1 passes.
        seed: the dropout masks come from torch's generator seeded with ``seed`` in a private fork, so the
            caller's global RNG state is left as it was; None draws them from the caller's generator.

    Returns:
        ``(mean, std)``: the predictive mean of the softmax probabilities (N, K) and their standard
        deviation over the passes (N, K).
    """
    check_int("num_samples", num_samples)
    masks = nullcontext() if seed is None else seeded(seed, X.device)
    with eval_mode(model), masks:
        enable_mc_dropout(model)
        probs = torch.stack([model(X).softmax(-1) for _ in range(num_samples)])  # (S, N, K)
    return probs.mean(0), probs.std(0, unbiased=False)
