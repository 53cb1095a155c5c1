"""Magnitude pruning and the lottery ticket: prune the smallest weights, rewind the rest, train again.

Frankle & Carbin, "The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural Networks", ICLR 2019.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..data import Dataset
from ..device import resolve_device, seeded
from ..train import fit
from ..validate import check_choice, check_int, check_probability


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
        a = check_probability(f"amount[{name!r}]", amounts.get(name, 0.0))
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
        handles.append(p.register_hook(lambda g, m=m: g * m.to(g.device)))  # a no-op copy when already there
    return handles


def fraction_kept(masks: dict[str, torch.Tensor]) -> float:
    """Fraction of weights still alive across all masks."""
    total = sum(m.numel() for m in masks.values())
    return sum(int(m.sum()) for m in masks.values()) / max(total, 1)


def lottery_ticket(make_model: Callable[[], nn.Module], data: Dataset, *, rounds: int = 5, amount: float = 0.4,
                   output_amount: float | None = None, reinit: str = "rewind", epochs: int = 20, lr: float = 1e-3,
                   seed: int = 0, device=None, **fit_kwargs) -> list[dict]:
    """Iterative magnitude pruning (Frankle & Carbin, "The Lottery Ticket Hypothesis", ICLR 2019).

    Round 0 trains the dense network from its initial weights theta_0. Each later round prunes ``amount``
    of each layer's surviving weights by magnitude (``output_amount`` for the last layer; default
    ``amount / 2`` as in the paper), then retrains the sparse network from
    ``reinit="rewind"``: theta_0 again (the "winning ticket"), or ``"random"``: a fresh random init, same mask.

    The caller's global RNG state is left as it was: every draw happens under a private seed.

    Args:
        make_model: builds one fresh model; called with torch's generator seeded with ``seed`` (theta_0)
            and, for ``"random"``, with ``seed + 1000 + round``.
        data: a ``Dataset``.  rounds: pruning rounds after the dense run (0: dense only).
        amount, output_amount: fractions in [0, 1) of the surviving weights removed per round.
        epochs, lr, device, fit_kwargs: passed to ``regviz.fit`` (e.g. ``batch_size``, ``optimizer``).

    Returns:
        One dict per round: ``round``, ``kept`` (fraction of weights alive), ``val_acc`` and ``val_loss``
        (final epoch), ``best_val_acc``, ``history`` (the ``History``).
    """
    check_choice("reinit", reinit, ("rewind", "random"))
    check_int("rounds", rounds, low=0)
    check_probability("amount", amount)
    out_amount = amount / 2 if output_amount is None else check_probability("output_amount", output_amount)
    with seeded(seed, device):  # fit reseeds torch's generator too: keep all of it inside a private fork
        model = make_model()
        theta0 = {k: v.detach().clone() for k, v in model.state_dict().items()}
        names = list(prunable(model))
        amounts = {n: (out_amount if n == names[-1] else amount) for n in names}
        masks, results = None, []
        for r in range(rounds + 1):
            if r > 0:
                masks = magnitude_masks(model, amounts, masks=masks)  # prune the trained weights of the last round
                if reinit == "rewind":
                    model = make_model()
                    model.load_state_dict(theta0)
                else:
                    with seeded(seed + 1000 + r, device):
                        model = make_model()
            model.to(resolve_device(device))  # before the masks: each hook's mask then lives where its gradient does
            handles = apply_masks_(model, masks) if masks is not None else []
            hist = fit(model, data, epochs=epochs, lr=lr, seed=seed, device=device, progress=False, **fit_kwargs)
            for h in handles:
                h.remove()
            results.append(dict(round=r, kept=1.0 if masks is None else fraction_kept(masks),
                                val_acc=hist.val_acc[-1], val_loss=hist.val_loss[-1],
                                best_val_acc=max(hist.val_acc), history=hist))
    return results
