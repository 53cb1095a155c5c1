"""Regularising layers written out: inverted dropout.

Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from Overfitting", JMLR 2014.
"""
from __future__ import annotations

import torch
from torch import nn


def _check_p(p) -> None:
    if isinstance(p, torch.Tensor):
        return  # a per-model tensor inside a batched sweep; checked where it was built
    if not (isinstance(p, (int, float)) and not isinstance(p, bool) and 0.0 <= p < 1.0):
        raise ValueError(f"p={p!r} must be a float in [0, 1)")


def dropout(x: torch.Tensor, p: float | torch.Tensor, training: bool = True,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale survivors by 1/(1-p).

    Scaling at training time keeps E[output] = input, so inference needs no change at all
    (the 2014 paper instead scaled the weights by 1-p at test time; same expectation).

    Args:
        x: any shape.
        p: drop probability in [0, 1) (a tensor is allowed, e.g. one value per model in a vmapped sweep).
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
    """``nn.Dropout`` with the same semantics, whose ``p`` is a buffer so a vmapped sweep can vary it per model."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        _check_p(p)
        self.p_value: float | None = float(p)  # None while a batched sweep supplies p through the buffer
        self.register_buffer("p", torch.tensor(float(p)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p_value == 0.0:
            return x
        return dropout(x, self.p if self.p_value is None else self.p_value, True)

    def extra_repr(self) -> str:
        return f"p={self.p_value}"
