"""Optimisers: ``make_optimizer`` for one model, ``StackedOptimizer`` for K stacked models with per-model settings.

AdamW is Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (ICLR 2019); Adam is Kingma & Ba (ICLR 2015).
"""
from __future__ import annotations

import math

import torch

from .validate import check_choice

OPTIMIZERS = ("adamw", "adam", "sgd")
DECAY = ("all", "weights")


def make_optimizer(name: str, params, *, lr: float, weight_decay: float = 0.0, momentum: float = 0.9,
                   betas: tuple[float, float] = (0.9, 0.999), fused: bool | None = None) -> torch.optim.Optimizer:
    """``"adamw"`` (decoupled decay), ``"adam"`` (L2 added to the gradient) or ``"sgd"`` (with momentum).

    Args:
        params: parameters or parameter groups (groups may carry their own ``weight_decay``).
        fused: None = the fused implementation where PyTorch has one for the parameters' device (same maths,
            one kernel per step: about 1.5x faster for the course's small models on a CPU); False = the
            plain per-tensor loop (its float rounding differs in the last bits).
    """
    check_choice("optimizer", name, OPTIMIZERS)
    params = list(params)
    tensors = [t for group in params for t in (group["params"] if isinstance(group, dict) else [group])]
    if fused is None:
        fused = bool(tensors) and all(t.dtype in (torch.float32, torch.float64) and t.device.type in ("cpu", "cuda")
                                      for t in tensors)
    kw = {"fused": True} if fused else {}
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas, **kw)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, betas=betas, **kw)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, **kw)


class StackedOptimizer(torch.optim.Optimizer):
    """AdamW / Adam / SGD(momentum) over stacked (K, ...) parameters, each model with its own lr and decay.

    With one shared lr, torch's fused optimiser makes the step (one kernel over all tensors) and the
    per-model decay is applied around it exactly where torch.optim applies it; per-model lrs use the same
    update rules written with ``torch._foreach_*`` ops. An LR scheduler scales ``param_groups[0]["lr"]``; model
    k then steps with ``lr[k] * param_groups[0]["lr"] / lr[0]`` (the same schedule for every model).

    Args:
        params: every parameter, each with the model index as its leading dimension K.
        decayed: the parameters that take weight decay.
        lr, weight_decay: K values each.
    """

    def __init__(self, name, params: list[torch.Tensor], decayed: list[torch.Tensor], *, lr, weight_decay,
                 momentum=0.9, betas=(0.9, 0.999), eps=1e-8):
        check_choice("optimizer", name, OPTIMIZERS)
        super().__init__(list(params), dict(lr=lr[0]))
        self.name, self.momentum, self.betas, self.eps = name, momentum, betas, eps
        self.ps = list(params)
        self.base_lrs, self.base_lr, self.weight_decays = list(lr), lr[0], list(weight_decay)
        self.decayed = [any(p is q for q in decayed) for p in self.ps]
        self.t = 0
        self.fused = None
        self._build(1.0)
        if len(set(lr)) == 1 and self.ps[0].device.type in ("cpu", "cuda"):
            cls = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}[name]
            kw = dict(momentum=momentum) if name == "sgd" else dict(betas=betas, eps=eps)
            self.fused = cls(self.ps, lr=lr[0], weight_decay=0.0, fused=True, **kw)
        else:
            self.m = [torch.zeros_like(p) for p in self.ps]  # Adam: first moment; SGD: momentum buffer
            self.v = [torch.zeros_like(p) for p in self.ps]

    def _build(self, scale: float) -> None:
        """Per-parameter (K, 1, ...) lr, decay and AdamW shrink tensors for the lr scale in effect."""
        K = len(self.base_lrs)
        col = lambda v, p: torch.tensor(v, dtype=p.dtype, device=p.device).view((K,) + (1,) * (p.ndim - 1))  # noqa: E731
        self.scale = scale
        lrs = [lr * scale for lr in self.base_lrs] if scale != 1.0 else self.base_lrs
        self.lr = [col(lrs, p) for p in self.ps]
        self.wd = [col(self.weight_decays, p) * d for p, d in zip(self.ps, self.decayed)]  # 0: undecayed parameter
        self.shrink = [1 - a * b for a, b in zip(self.lr, self.wd)]  # AdamW's decoupled factor

    def _scale(self) -> float:
        """The scheduler's factor: ``param_groups[0]["lr"] / lr[0]``."""
        return self.param_groups[0]["lr"] / self.base_lr if self.base_lr else 1.0

    def lrs(self) -> list[float]:
        """Each model's learning rate now (its own lr times the scheduler's factor)."""
        scale = self._scale()
        return [lr * scale for lr in self.base_lrs] if scale != 1.0 else list(self.base_lrs)

    @torch.no_grad()
    def step(self, closure=None) -> None:
        group_lr, scale = self.param_groups[0]["lr"], self._scale()
        if scale != self.scale:
            self._build(scale)
        if self.fused is not None:
            self.fused.param_groups[0]["lr"] = group_lr
            if self.name == "adamw":
                torch._foreach_mul_(self.ps, self.shrink)  # decoupled decay first, as torch's AdamW does
            else:
                torch._foreach_add_([p.grad for p in self.ps], torch._foreach_mul(self.ps, self.wd))  # coupled L2
            self.fused.step()
            return
        self.t += 1
        ps, gs = self.ps, [p.grad for p in self.ps]
        if self.name == "sgd":
            d = torch._foreach_add(gs, torch._foreach_mul(ps, self.wd))  # grad + wd * w
            if self.t == 1:
                torch._foreach_copy_(self.m, d)
            else:
                torch._foreach_mul_(self.m, self.momentum)
                torch._foreach_add_(self.m, d)
            torch._foreach_sub_(ps, torch._foreach_mul(self.m, self.lr))
            return
        b1, b2 = self.betas
        if self.name == "adamw":
            torch._foreach_mul_(ps, self.shrink)  # decoupled: shrink the weights, the gradient is untouched
        else:
            gs = torch._foreach_add(gs, torch._foreach_mul(ps, self.wd))  # Adam's L2 enters the moments
        torch._foreach_lerp_(self.m, gs, 1 - b1)
        torch._foreach_mul_(self.v, b2)
        torch._foreach_addcmul_(self.v, gs, gs, value=1 - b2)
        bc1, bc2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        denom = torch._foreach_sqrt(self.v)
        torch._foreach_div_(denom, math.sqrt(bc2))
        torch._foreach_add_(denom, self.eps)
        upd = torch._foreach_div(self.m, denom)
        torch._foreach_mul_(upd, [lr / bc1 for lr in self.lr])
        torch._foreach_sub_(ps, upd)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.ps:
            p.grad = None
