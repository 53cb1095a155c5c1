"""Explicit weight penalties and parameter groups for weight decay.

Scaling used everywhere in the course: ``loss + lam * l2_penalty(model)`` with ``l2_penalty = 1/2 * sum(w**2)``,
so the penalty's gradient is ``lam * w`` -- exactly what ``torch.optim.SGD(weight_decay=lam)`` adds.
"""
from __future__ import annotations

import torch
from torch import nn


def _penalised(model: nn.Module, weights_only: bool):
    # "weights" = tensors with >= 2 dims (Linear/Conv kernels, embeddings); biases and norm gains are 1-D.
    return [p for p in model.parameters() if p.requires_grad and (p.ndim >= 2 or not weights_only)]


def l1_penalty(model: nn.Module, *, weights_only: bool = True) -> torch.Tensor:
    """Sum of |w| over the model's weights (biases/norm parameters skipped unless ``weights_only=False``).

    Returns:
        A scalar tensor connected to the graph.
    """
    ps = _penalised(model, weights_only)
    return torch.stack([p.abs().sum() for p in ps]).sum() if ps else torch.zeros(())


def l2_penalty(model: nn.Module, *, weights_only: bool = True) -> torch.Tensor:
    """One half of the sum of w**2 over the model's weights (gradient: w).

    Returns:
        A scalar tensor connected to the graph.
    """
    ps = _penalised(model, weights_only)
    return 0.5 * torch.stack([p.pow(2).sum() for p in ps]).sum() if ps else torch.zeros(())


_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two optimiser parameter groups: weights decayed by ``weight_decay``; biases and norm parameters at 0.

    Pass the result as ``params=`` to ``fit`` or straight to a ``torch.optim`` optimiser.
    """
    if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
        raise ValueError(f"weight_decay={weight_decay!r} must be a number >= 0")
    no_decay_ids = set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if isinstance(module, _NORMS) or name.endswith("bias") or p.ndim < 2:
                no_decay_ids.add(id(p))
    decay, no_decay, seen = [], [], set()
    for p in model.parameters():
        if id(p) in seen or not p.requires_grad:
            continue
        seen.add(id(p))
        (no_decay if id(p) in no_decay_ids else decay).append(p)
    return [{"params": decay, "weight_decay": float(weight_decay)}, {"params": no_decay, "weight_decay": 0.0}]


# ---------------------------------------------------------------- elastic net and the proximal L1 step

def elastic_net_penalty(model: nn.Module, *, l1_ratio: float = 0.5, weights_only: bool = True) -> torch.Tensor:
    """Elastic net (Zou & Hastie, "Regularization and variable selection via the elastic net", JRSS-B 2005).

    ``l1_ratio * l1_penalty + (1 - l1_ratio) * l2_penalty`` (the L2 part keeps the course's 1/2 scaling,
    as scikit-learn's ``ElasticNet`` does); multiply by ``lam`` when adding it to the loss.

    Args:
        l1_ratio: in [0, 1]; 1 = pure L1, 0 = pure L2.

    Returns:
        A scalar tensor connected to the graph.
    """
    if not (isinstance(l1_ratio, (int, float)) and 0.0 <= l1_ratio <= 1.0):
        raise ValueError(f"l1_ratio={l1_ratio!r} must be a number in [0, 1]")
    return l1_ratio * l1_penalty(model, weights_only=weights_only) + \
        (1 - l1_ratio) * l2_penalty(model, weights_only=weights_only)


def soft_threshold(w: torch.Tensor, threshold: float) -> torch.Tensor:
    """The proximal operator of ``threshold * |w|``: ``sign(w) * max(|w| - threshold, 0)``.

    Entries with ``|w| <= threshold`` become exactly 0 (same as ``torch.nn.functional.softshrink``).

    Args:
        w: any shape.  threshold: >= 0.

    Returns:
        A new tensor shaped like ``w``.
    """
    if not (isinstance(threshold, (int, float)) and threshold >= 0):
        raise ValueError(f"threshold={threshold!r} must be a number >= 0")
    return torch.sign(w) * torch.clamp(w.abs() - threshold, min=0.0)


@torch.no_grad()
def prox_l1_(model: nn.Module, *, lr: float, l1: float, weights_only: bool = True) -> None:
    """Proximal-gradient L1 step, IN PLACE: after an optimiser step on the data loss, ``w <- soft_threshold(w, lr*l1)``.

    With plain SGD this is ISTA (proximal gradient descent on ``loss + l1 * sum|w|``): weights whose magnitude
    falls below ``lr * l1`` land on exactly 0 instead of oscillating around it as a subgradient step does.
    """
    for what, v in (("lr", lr), ("l1", l1)):
        if not (isinstance(v, (int, float)) and v >= 0):
            raise ValueError(f"{what}={v!r} must be a number >= 0")
    for p in _penalised(model, weights_only):
        p.copy_(soft_threshold(p, lr * l1))


# ---------------------------------------------------------------- magnitude pruning and the lottery ticket

def prunable(model: nn.Module) -> dict[str, nn.Parameter]:
    """The weight matrices / kernels (``ndim >= 2``) by name: what magnitude pruning removes."""
    return {n: p for n, p in model.named_parameters() if p.ndim >= 2}


def magnitude_masks(model: nn.Module, amount: float | dict[str, float], *,
                    masks: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Layer-wise magnitude pruning: in each weight tensor, drop ``amount`` of the weights still alive.

    Matches ``torch.nn.utils.prune.l1_unstructured`` applied round after round (it too prunes a fraction of
    the *remaining* weights); Frankle & Carbin (ICLR 2019) prune each layer this way, e.g. 20% per round.

    Args:
        amount: fraction in [0, 1) of the surviving weights to remove, one number or ``{name: fraction}``
            (names from ``prunable(model)``; missing names are not pruned).
        masks: the previous round's masks (``{name: bool tensor}``), default all ones.

    Returns:
        ``{name: bool tensor shaped like the weight}``, True = kept.
    """
    weights = prunable(model)
    amounts = amount if isinstance(amount, dict) else {n: amount for n in weights}
    unknown = set(amounts) - set(weights)
    if unknown:
        raise ValueError(f"amount names {sorted(unknown)} are not prunable weights; names: {sorted(weights)}")
    out = {}
    for name, w in weights.items():
        a = amounts.get(name, 0.0)
        if not (isinstance(a, (int, float)) and 0.0 <= a < 1.0):
            raise ValueError(f"amount={a!r} for {name!r} must be a number in [0, 1)")
        old = torch.ones_like(w, dtype=torch.bool) if masks is None else masks[name].to(w.device).bool()
        alive = int(old.sum())
        k = round(a * alive)  # how many to remove this round (torch.nn.utils.prune rounds the same way)
        new = old.clone()
        if k > 0:
            score = w.detach().abs().masked_fill(~old, -1.0).flatten()  # pruned weights never come back
            drop = torch.topk(score, k + (w.numel() - alive), largest=False).indices  # dead ones + k smallest alive
            new.view(-1)[drop] = False
        out[name] = new
    return out


@torch.no_grad()
def apply_masks_(model: nn.Module, masks: dict[str, torch.Tensor]) -> list:
    """Zero the pruned weights IN PLACE and keep them at zero during training (a gradient hook masks their grad).

    With zero gradients from the start, SGD, Adam and AdamW all leave a zeroed weight at exactly 0.

    Returns:
        The hook handles (call ``.remove()`` on each to stop masking).
    """
    weights = prunable(model)
    handles = []
    for name, m in masks.items():
        if name not in weights:
            raise ValueError(f"mask name {name!r} is not a prunable weight; names: {sorted(weights)}")
        p = weights[name]
        m = m.to(p.device, dtype=p.dtype)
        p.mul_(m)
        handles.append(p.register_hook(lambda g, m=m: g * m.to(g.device)))
    return handles


def fraction_kept(masks: dict[str, torch.Tensor]) -> float:
    """Fraction of weights still alive across all masks."""
    total = sum(m.numel() for m in masks.values())
    return sum(int(m.sum()) for m in masks.values()) / max(total, 1)


def lottery_ticket(make_model, data, *, rounds: int = 5, amount: float = 0.4, output_amount: float | None = None,
                   reinit: str = "rewind", epochs: int = 20, lr: float = 1e-3, seed: int = 0,
                   device=None, **fit_kwargs) -> list[dict]:
    """Iterative magnitude pruning (Frankle & Carbin, "The Lottery Ticket Hypothesis", ICLR 2019).

    Round 0 trains the dense network from its initial weights theta_0. Each later round prunes ``amount``
    of each layer's surviving weights by magnitude (``output_amount`` for the last layer; default
    ``amount / 2`` as in the paper), then retrains the sparse network from
    ``reinit="rewind"``: theta_0 again (the "winning ticket"), or ``"random"``: a fresh random init, same mask.

    Args:
        make_model: builds one fresh model; called after ``torch.manual_seed(seed)`` (theta_0) and, for
            ``"random"``, after ``torch.manual_seed(seed + 1000 + round)``.
        fit_kwargs: passed to ``regviz.fit`` (e.g. ``batch_size``, ``optimizer``, ``weight_decay``).

    Returns:
        One dict per round: ``round``, ``kept`` (fraction of weights alive), ``val_acc`` and ``val_loss``
        (final epoch), ``best_val_acc``, ``history`` (the ``History``).
    """
    from .train import fit

    if reinit not in ("rewind", "random"):
        raise ValueError(f"reinit={reinit!r}; allowed: 'rewind', 'random'")
    if not (isinstance(rounds, int) and rounds >= 0):
        raise ValueError(f"rounds={rounds!r} must be an int >= 0")
    torch.manual_seed(seed)
    model = make_model()
    theta0 = {k: v.detach().clone() for k, v in model.state_dict().items()}
    names = list(prunable(model))
    out_amount = amount / 2 if output_amount is None else output_amount
    amounts = {n: (out_amount if n == names[-1] else amount) for n in names}
    masks, results = None, []
    for r in range(rounds + 1):
        if r > 0:
            masks = magnitude_masks(model, amounts, masks=masks)  # prune the trained weights of the last round
            if reinit == "rewind":
                model = make_model()
                model.load_state_dict(theta0)
            else:
                torch.manual_seed(seed + 1000 + r)
                model = make_model()
        handles = apply_masks_(model, masks) if masks is not None else []
        hist = fit(model, data, epochs=epochs, lr=lr, seed=seed, device=device, progress=False, **fit_kwargs)
        for h in handles:
            h.remove()
        results.append(dict(round=r, kept=1.0 if masks is None else fraction_kept(masks),
                            val_acc=hist.val_acc[-1], val_loss=hist.val_loss[-1], best_val_acc=max(hist.val_acc),
                            history=hist))
    return results


class ProximalSGD(torch.optim.SGD):
    """Plain SGD on the data loss followed by the L1 proximal step (ISTA when ``momentum=0``).

    Weights (``ndim >= 2``) of every group are soft-thresholded by ``lr * l1`` after each step; biases are not.
    Use with ``fit(..., optimizer=lambda params, lr, weight_decay: ProximalSGD(params, lr=lr, l1=...))``.
    """

    def __init__(self, params, lr: float, l1: float, momentum: float = 0.0):
        if not (isinstance(l1, (int, float)) and l1 >= 0):
            raise ValueError(f"l1={l1!r} must be a number >= 0")
        super().__init__(params, lr=lr, momentum=momentum)
        self.l1 = float(l1)

    @torch.no_grad()
    def step(self, closure=None):
        loss = super().step(closure)
        for group in self.param_groups:
            t = group["lr"] * self.l1
            for p in group["params"]:
                if p.ndim >= 2:
                    p.copy_(soft_threshold(p, t))
        return loss
