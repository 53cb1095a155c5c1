"""Train K settings of one knob as ONE batched model (``torch.func.stack_module_state`` + ``vmap``).

A slider panel uses this to precompute its whole grid at once. ``fit`` stays the readable reference:
for p = 0 a sweep reproduces K sequential ``fit`` calls with the same seeds (tests check it).
"""
from __future__ import annotations

import math
import time
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .data import Dataset
from .device import resolve_device
from .history import History
from .layers import Dropout
from .train import OPTIMIZERS, _check_args, check_model_fits_data

KNOBS = ("weight_decay", "lr", "p", "eps", "l1", "seed")


def _per_model(values, K: int, dev, ndim: int) -> torch.Tensor:
    """(K,) values reshaped to broadcast against a stacked tensor with ``ndim`` dims."""
    return torch.as_tensor(values, dtype=torch.float32, device=dev).reshape((K,) + (1,) * (ndim - 1))


class _StackedOptimizer:
    """AdamW / Adam / SGD(momentum) on stacked (K, ...) parameters, each model with its own lr and decay.

    Follows torch.optim's update rules step for step, with ``torch._foreach_*`` ops over all tensors at once.
    """

    def __init__(self, name, params: dict, lr, weight_decay, momentum=0.9, betas=(0.9, 0.999), eps=1e-8):
        self.name, self.momentum, self.betas, self.eps = name, momentum, betas, eps
        self.ps = list(params.values())
        self.lr = [_per_model(lr, len(p), p.device, p.ndim) for p in self.ps]  # (K, 1, ...) each
        self.wd = [_per_model(weight_decay, len(p), p.device, p.ndim) for p in self.ps]
        self.shrink = [1 - a * b for a, b in zip(self.lr, self.wd)]  # AdamW's decoupled factor
        self.t = 0

        # One shared lr (every knob but "lr"): torch's fused optimiser does the update in one pass over
        # memory, with the per-model decay applied around it exactly where torch.optim applies it.
        lr0 = float(torch.as_tensor(lr).flatten()[0])
        self.fused = None
        if bool((torch.as_tensor(lr) == lr0).all()) and self.ps[0].device.type in ("cpu", "cuda"):
            cls = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}[name]
            kw = dict(momentum=momentum) if name == "sgd" else dict(betas=betas, eps=eps)
            self.fused = cls(self.ps, lr=lr0, weight_decay=0.0, fused=True, **kw)
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

    def zero_grad(self) -> None:
        for p in self.ps:
            p.grad = None


def _soft_ce(logits: torch.Tensor, y: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Per-model mean cross-entropy with label smoothing: logits (K, B, C), y (K, B), eps (K,) -> (K,)."""
    logp = logits.log_softmax(-1)
    nll = -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1)  # (K, B)
    uniform = -logp.mean(-1)  # (K, B)
    e = eps.view(-1, 1)
    return ((1 - e) * nll + e * uniform).mean(-1)


def sweep(
    make_model: Callable[[], nn.Module],
    data: Dataset,
    *,
    knob: str,
    values: Sequence[float],
    epochs: int = 100,
    lr: float = 1e-3,
    optimizer: str = "adamw",
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    batch_size: int = 64,
    eps: float = 0.0,
    l1: float = 0.0,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> list[History]:
    """Train ``len(values)`` copies of ``make_model()`` at once, one per value of ``knob``.

    Model k is built after ``torch.manual_seed(seed_k)`` and shuffled with ``seed_k`` exactly as
    ``fit(..., seed=seed_k)`` would (``seed_k`` is ``values[k]`` for ``knob="seed"``, else ``seed``).

    Args:
        make_model: builds one fresh model (called K times).
        knob: one of ``KNOBS``: ``weight_decay``, ``lr``, ``p`` (every ``regviz.layers.Dropout``),
            ``eps`` (label smoothing), ``l1`` (coefficient of ``l1_penalty``), ``seed``.
        values: the K settings.
        other args: as in ``fit``; the loss is cross-entropy with smoothing ``eps`` plus ``l1 * sum|w|``,
            and the same smoothed loss is reported for train and validation (as ``fit`` with that loss_fn).

    Returns:
        One ``History`` per value, in order.
    """
    if knob not in KNOBS:
        raise ValueError(f"unknown knob {knob!r}; allowed: {', '.join(KNOBS)}")
    values = list(values)
    if not values:
        raise ValueError("values is empty; give at least one setting")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; allowed: {', '.join(OPTIMIZERS)}")
    for v in values:
        s = dict(lr=lr, weight_decay=weight_decay)
        if knob in s:
            s[knob] = v
        _check_args(epochs, s["lr"], s["weight_decay"], batch_size, optimizer)
        if knob == "p" and not 0 <= v < 1:
            raise ValueError(f"p={v!r} must be in [0, 1)")
        if knob == "eps" and not 0 <= v <= 1:
            raise ValueError(f"eps={v!r} must be in [0, 1]")
        if knob == "l1" and not v >= 0:
            raise ValueError(f"l1={v!r} must be >= 0")
    dev = resolve_device(device)
    if data.device != dev:
        data = data.to(dev)
    K = len(values)
    col = lambda name, default: [v if knob == name else default for v in values]  # noqa: E731
    seeds = [int(v) for v in col("seed", seed)]

    # 1. K models, each initialised as fit's caller would, stacked into (K, ...) tensors
    models = []
    for k in range(K):
        torch.manual_seed(seeds[k])
        m = make_model().to(dev)
        if k == 0:
            check_model_fits_data(m, data)  # before K copies are built and stacked
        drops = [mod for mod in m.modules() if isinstance(mod, Dropout)]
        if knob == "p":
            if not drops:
                raise ValueError("knob='p' needs a model with regviz.layers.Dropout modules (regviz.MLP / CNN)")
            for d in drops:
                d.p.fill_(values[k])
        models.append(m)
    base = models[0]
    if knob == "p":
        for d in (mod for mod in base.modules() if isinstance(mod, Dropout)):
            d.p_value = None  # read p from the stacked buffer
    params, buffers = stack_module_state(models)
    params = {k: v.detach().requires_grad_() for k, v in params.items()}
    lr_t = torch.tensor(col("lr", lr), device=dev)
    opt = _StackedOptimizer(optimizer, params, lr_t, torch.tensor(col("weight_decay", weight_decay), device=dev),
                            momentum=momentum)
    eps_t = torch.tensor(col("eps", eps), dtype=torch.float32, device=dev)
    l1_t = torch.tensor(col("l1", l1), dtype=torch.float32, device=dev)
    weight_keys = [k for k, v in params.items() if v.ndim >= 3]  # stacked weights: (K, out, in, ...)

    def forward_one(p, b, x):
        return functional_call(base, (p, b), (x,))

    train_fwd = vmap(forward_one, in_dims=(0, 0, 0), randomness="different")  # each model its own batch
    eval_fwd = vmap(forward_one, in_dims=(0, 0, None))  # every model on the same data

    @torch.no_grad()
    def evaluate_all(X, y):
        base.eval()
        loss = torch.zeros(K, device=dev)
        correct = torch.zeros(K, device=dev)
        for i in range(0, len(y), 4096):
            logits = eval_fwd(params, buffers, X[i:i + 4096])  # (K, B, C)
            yb = y[i:i + 4096].expand(K, -1)
            loss += _soft_ce(logits, yb, eps_t) * len(yb[0])
            correct += (logits.argmax(-1) == yb).sum(-1)
        return (loss / len(y)).tolist(), (correct / len(y)).tolist()

    gens = [torch.Generator().manual_seed(s) for s in seeds]
    torch.manual_seed(seed)  # dropout masks inside the vmap
    common = dict(model=type(base).__name__, dataset=data.name, n_train=len(data.y_train), epochs=epochs, lr=lr,
                  optimizer=optimizer, weight_decay=weight_decay, batch_size=batch_size, eps=eps, l1=l1,
                  seed=seed, device=str(dev), sweep=knob)
    hists = [History(config={**common, knob: values[k]}) for k in range(K)]
    X, y, n = data.X_train, data.y_train, len(data.y_train)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs, desc=f"sweep {knob} x{K}", unit="epoch", leave=False)
    start = time.perf_counter()
    alive = [True] * K
    for epoch in range(1, epochs + 1):
        base.train()
        perms = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(dev)  # (K, n)
        for i in range(0, n, batch_size):
            idx = perms[:, i:i + batch_size]  # (K, B)
            logits = train_fwd(params, buffers, X[idx])  # (K, B, C)
            loss = _soft_ce(logits, y[idx], eps_t)  # (K,)
            if knob == "l1" or l1 > 0:
                loss = loss + l1_t * sum(params[k].abs().flatten(1).sum(1) for k in weight_keys)
            opt.zero_grad()
            loss.sum().backward()  # models are independent: d(sum)/d(params_k) = d(loss_k)/d(params_k)
            opt.step()
        tl, ta = evaluate_all(X, y)
        vl, va = evaluate_all(data.X_val, data.y_val)
        for k, h in enumerate(hists):
            if not alive[k]:
                continue
            h.lr.append(float(lr_t[k])); h.train_loss.append(tl[k]); h.train_acc.append(ta[k])
            h.val_loss.append(vl[k]); h.val_acc.append(va[k])
            if not (math.isfinite(tl[k]) and math.isfinite(vl[k])):
                alive[k] = False
                h.stop_reason = f"diverged: loss became non-finite at epoch {epoch}"
        if bar is not None:
            bar.update(1)
        if not any(alive):
            break
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    for h in hists:
        h.seconds = seconds / K
        h.update_best()
    return hists
