"""K settings of one knob trained as ONE stacked model: (K, in, out) weights, ``torch.baddbmm``, one optimiser.

``sweep`` builds K copies of an MLP exactly as K ``fit`` calls would, stacks them into a ``StackedMLP`` and
trains that with ``fit`` itself (the one epoch loop), each model with its own knob value, seed and batches.
For p = 0 a sweep reproduces K sequential ``fit`` calls with the same seeds (tests check it).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from .data import Dataset
from .device import resolve_device, seeded
from .history import History
from .layers import Dropout, dropout
from .penalties import soft_threshold
from .train import OPTIMIZERS, check_model_fits_data, fit
from .validate import check_choice, check_probability

KNOBS = ("weight_decay", "lr", "p", "eps", "l1", "seed")
_FIT_NAME = {"eps": "label_smoothing"}  # sweep knob -> fit argument


class StackedMLP(nn.Module):
    """K MLPs of one shape as one module: layer i holds a (K, in, out) weight and a (K, 1, out) bias.

    ``forward`` takes (K, B, *input_shape) (each model its own batch; ``fit`` expands a shared evaluation batch)
    and returns (K, B, C) logits: per layer one ``torch.baddbmm(bias, x, W)``, ReLU, dropout with
    model k's own p.

    Args:
        models: K ``regviz.MLP`` (or any ``Flatten, [Linear, ReLU, Dropout] x depth, Linear`` Sequential
            under ``.net``) with identical shapes; their weights are copied.
        p: one dropout probability per model (default: each model's own).
    """

    def __init__(self, models: Sequence[nn.Module], p: Sequence[float] | None = None):
        super().__init__()
        layers = [_linear_layers(m) for m in models]
        shapes = [[tuple(l.weight.shape) for l in ls] for ls in layers]
        if any(s != shapes[0] for s in shapes):
            raise ValueError("StackedMLP needs K models of identical shapes")
        self.num_models = K = len(models)
        self.weights = nn.ParameterList(  # (K, in, out): x (K, B, in) @ W -> (K, B, out)
            nn.Parameter(torch.stack([ls[i].weight.detach().t() for ls in layers]).contiguous())
            for i in range(len(layers[0])))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([ls[i].bias.detach() for ls in layers]).unsqueeze(1)) for i in range(len(layers[0])))
        own = [next((float(d.p) for d in m.modules() if isinstance(d, Dropout)), 0.0) for m in models]
        p = own if p is None else [check_probability("p", v) for v in p]
        if len(p) != K:
            raise ValueError(f"p has {len(p)} values for {K} models")
        self.register_buffer("p", torch.tensor(p, dtype=torch.float32).view(K, 1, 1), persistent=False)
        hp = dict(getattr(models[0], "hparams", {}))
        self.hparams = {**hp, "model": hp.get("model", type(models[0]).__name__), "p": list(p), "stacked": K}
        self.in_features = self.weights[0].shape[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (K, B, *input_shape), model k's batch in x[k] -> (K, B, C) logits."""
        K = self.num_models
        x = x.reshape(K, x.shape[1], -1)  # (K, B, in)
        last = len(self.weights) - 1
        drop = self.training and bool((self.p > 0).any())
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, W)  # (K, B, out)
            if i < last:
                x = x.relu_()  # in place: baddbmm's backward needs its inputs, not its output
                if drop:
                    x = dropout(x, self.p, True)  # model k drops with its own p
        return x

    def l1_norms(self) -> torch.Tensor:
        """(K,): sum of |w| over each model's weight matrices (biases skipped, as ``l1_penalty``)."""
        return sum(W.abs().flatten(1).sum(1) for W in self.weights)

    @torch.no_grad()
    def prox_l1_(self, threshold: torch.Tensor) -> None:
        """The proximal L1 step, in place: soft-threshold model k's weights by ``threshold[k]`` ((K, 1, 1):
        ``lr[k] * l1[k]``)."""
        for W in self.weights:
            W.copy_(soft_threshold(W, threshold))

    def make_optimizer(self, name: str, *, lr, weight_decay, decay: str, momentum: float, betas) -> "StackedOptimizer":
        decayed = list(self.weights) + ([] if decay == "weights" else list(self.biases))
        return StackedOptimizer(name, list(self.parameters()), decayed, lr=lr, weight_decay=weight_decay,
                                momentum=momentum, betas=betas)

    def unstack(self, k: int, model: nn.Module) -> nn.Module:
        """Copy model k's weights into ``model`` (an MLP of the same shape) and return it."""
        with torch.no_grad():
            for l, W, b in zip(_linear_layers(model), self.weights, self.biases):
                l.weight.copy_(W[k].t()); l.bias.copy_(b[k, 0])
        return model


def _linear_layers(model: nn.Module) -> list[nn.Linear]:
    net = getattr(model, "net", model)
    kinds = (nn.Flatten, nn.Linear, nn.ReLU, Dropout)
    if not isinstance(net, nn.Sequential) or not all(isinstance(m, kinds) for m in net):
        raise ValueError(f"sweep stacks MLPs (Flatten, Linear, ReLU, regviz Dropout); got {type(model).__name__}: "
                         "train other models one at a time with fit")
    return [m for m in net if isinstance(m, nn.Linear)]


class StackedOptimizer:
    """AdamW / Adam / SGD(momentum) over stacked (K, ...) parameters, each model with its own lr and decay.

    With one shared lr, torch's fused optimiser makes the step (one kernel over all tensors) and the
    per-model decay is applied around it exactly where torch.optim applies it; per-model lrs use the same
    update rules written with ``torch._foreach_*`` ops.
    """

    def __init__(self, name, params: list[torch.Tensor], decayed: list[torch.Tensor], *, lr, weight_decay,
                 momentum=0.9, betas=(0.9, 0.999), eps=1e-8):
        check_choice("optimizer", name, OPTIMIZERS)
        self.name, self.momentum, self.betas, self.eps = name, momentum, betas, eps
        self.ps = params
        ids = {id(p) for p in decayed}
        K = len(lr)
        col = lambda v, p: torch.tensor(v, dtype=p.dtype, device=p.device).view((K,) + (1,) * (p.ndim - 1))  # noqa: E731
        self.lr = [col(lr, p) for p in self.ps]
        self.wd = [col(weight_decay, p) * (id(p) in ids) for p in self.ps]  # 0 for undecayed parameters
        self.shrink = [1 - a * b for a, b in zip(self.lr, self.wd)]  # AdamW's decoupled factor
        self.param_groups = [{"lr": lr[0]}]
        self.t = 0
        self.fused = None
        if len(set(lr)) == 1 and self.ps[0].device.type in ("cpu", "cuda"):
            cls = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}[name]
            kw = dict(momentum=momentum) if name == "sgd" else dict(betas=betas, eps=eps)
            self.fused = cls(self.ps, lr=lr[0], weight_decay=0.0, fused=True, **kw)
        else:
            self.m = [torch.zeros_like(p) for p in self.ps]  # Adam: first moment; SGD: momentum buffer
            self.v = [torch.zeros_like(p) for p in self.ps]

    @torch.no_grad()
    def step(self) -> None:
        if self.fused is not None:
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


def sweep(
    make_model: Callable[[], nn.Module],
    data: Dataset,
    *,
    knob: str,
    values: Sequence[float],
    device: str | torch.device | None = None,
    seed: int = 0,
    **fit_kwargs,
) -> list[History]:
    """Train ``len(values)`` copies of ``make_model()`` at once, one per value of ``knob``, with ``fit``.

    Model k is built inside ``seeded(seed_k)`` and shuffled with ``seed_k`` exactly as ``fit(..., seed=seed_k)``
    would (``seed_k`` is ``values[k]`` for ``knob="seed"``, else ``seed``).

    Args:
        make_model: builds one fresh MLP (called K times).
        knob: one of ``KNOBS``: ``weight_decay``, ``lr``, ``p`` (dropout after every hidden layer), ``eps``
            (label smoothing), ``l1``, ``seed``.
        values: the K settings.
        fit_kwargs: as in ``fit`` (epochs, lr, optimizer, weight_decay, decay, l1, l1_proximal,
            label_smoothing, momentum, betas, batch_size, progress).

    Returns:
        One ``History`` per value, in order; each config names its own value and ``sweep=knob``.
    """
    check_choice("knob", knob, KNOBS)
    values = list(values)
    if not values:
        raise ValueError("values is empty; give at least one setting")
    if knob == "p":
        for v in values:
            check_probability("p", v)
    dev = resolve_device(device)
    if data.device != dev:
        data = data.to(dev)
    seeds = [int(v) for v in values] if knob == "seed" else [seed] * len(values)
    models = []
    for k, s in enumerate(seeds):
        with seeded(s, dev):  # each model initialised as fit's caller would, without touching the caller's RNG
            m = make_model().to(dev)
        if k == 0:
            check_model_fits_data(m, data)  # before K copies are built and stacked
        models.append(m)
    stacked = StackedMLP(models, p=values if knob == "p" else None).to(dev)
    fit_kwargs.setdefault("progress", True)
    if knob not in ("p", "seed"):
        fit_kwargs[_FIT_NAME.get(knob, knob)] = values
    hists = fit(stacked, data, seed=seeds, device=dev, **fit_kwargs)
    for h in hists:
        h.config["sweep"] = knob
    return hists
