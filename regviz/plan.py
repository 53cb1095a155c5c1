"""What differs between training one model and K stacked ones, so that ``fit`` has one loop for both.

``plan_for(model)`` returns a ``SinglePlan`` or a ``StackedPlan``. A plan shuffles, builds the optimiser,
computes the per-model loss and penalties, clips, takes the proximal step, splits evaluation outputs per model,
snapshots one model's weights and shapes the result. Everything else in ``fit`` is common to both.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .evaluation import LossFn, loss_and_accuracy
from .history import Histories, History
from .losses import z_loss as z_loss_term
from .optim import make_optimizer
from .penalties import decay_groups, l1_penalty, prox_l1_
from .stacked import Stacked


class SinglePlan:
    """One ordinary model: scalar losses, torch's optimisers, ``History``."""

    num_models = 1
    label = "fit"

    def __init__(self, model: nn.Module):
        self.model = model

    def per_model(self, name: str, value) -> list:
        """A knob as a list of one value (a list of values needs a stacked model)."""
        if isinstance(value, (list, tuple)):
            raise ValueError(f"{name}={value!r}: a list of values needs a stacked model (regviz.sweep)")
        return [value]

    def knob(self, values: list):
        """A per-model knob as ``History.config`` records it: the value itself."""
        return values[0]

    def optimizer(self, name, *, lr, weight_decay, decay, momentum, betas, fused, l1, label_smoothing, dev):
        """The optimiser (``decay="weights"``: biases and norms undecayed); also keeps the loss settings."""
        self.eps, self.l1 = label_smoothing[0], l1[0]
        params = decay_groups(self.model, weight_decay[0]) if decay == "weights" else self.model.parameters()
        return make_optimizer(name, params, lr=lr[0], weight_decay=weight_decay[0], momentum=momentum, betas=betas,
                              fused=fused)

    def check_scheduler(self, plateau: bool) -> None:
        """Every scheduler suits one model."""

    def permutation(self, n: int, gens: list[torch.Generator]) -> torch.Tensor:
        """(n,) shuffled indices from the run's generator."""
        return torch.randperm(n, generator=gens[0])

    def transform(self, fn: Callable, Xb, tb, gens):
        return fn(Xb, tb, gens[0])

    def loss(self, logits: torch.Tensor, targets: torch.Tensor, loss_fn: LossFn | None) -> torch.Tensor:
        """The step's cross-entropy (with label smoothing) or ``loss_fn``: a scalar."""
        if loss_fn is not None:
            return loss_fn(logits, targets)
        soft = targets.shape == logits.shape
        return F.cross_entropy(logits.flatten(0, -2), targets.flatten(0, -2) if soft else targets.flatten(),
                               label_smoothing=self.eps)

    def z_loss(self, logits: torch.Tensor) -> torch.Tensor:
        return z_loss_term(logits)

    def l1_term(self) -> torch.Tensor:
        return self.l1 * l1_penalty(self.model)

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def clip_(self, max_norm: float) -> None:
        nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)

    def prox_(self, opt) -> None:
        """Soft-threshold the weights by lr * l1 (the lr in effect now)."""
        prox_l1_(self.model, lr=opt.param_groups[0]["lr"], l1=self.l1)

    def lrs(self, opt) -> list[float]:
        return [opt.param_groups[0]["lr"]]

    def scores(self, logits: torch.Tensor, y: torch.Tensor, **kw) -> tuple[list[float], list[float]]:
        """Per-model (losses, accuracies) of stored evaluation logits."""
        loss, acc = loss_and_accuracy(logits, y, **kw)
        return [loss], [acc]

    def logits_of(self, logits: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
        return logits

    def postfix(self, tl: list[float], vl: list[float]) -> dict:
        return dict(train_loss=f"{tl[0]:.3f}", val_loss=f"{vl[0]:.3f}")

    def state(self, k: int) -> Callable[[], dict]:
        """A function returning a copy of model k's weights."""
        return lambda: copy.deepcopy(self.model.state_dict())

    def load(self, k: int) -> Callable[[dict], None]:
        return self.model.load_state_dict

    def result(self, hists: list[History]) -> History:
        return hists[0]


class StackedPlan(SinglePlan):
    """K stacked models (``regviz.stacked``): (K,) losses summed for backward, per-model knobs, ``Histories``."""

    def __init__(self, model: Stacked):
        super().__init__(model)
        self.num_models = K = model.num_models
        self.label = f"fit x{K}"

    def per_model(self, name: str, value) -> list:
        """K values of a knob (one value is repeated)."""
        if isinstance(value, (list, tuple)):
            if len(value) != self.num_models:
                raise ValueError(f"{name} has {len(value)} values for {self.num_models} stacked models")
            return list(value)
        return [value] * self.num_models

    def knob(self, values: list):
        return values

    def optimizer(self, name, *, lr, weight_decay, decay, momentum, betas, fused, l1, label_smoothing, dev):
        col = lambda v: torch.tensor(v, dtype=torch.float32, device=dev).view(-1, 1, 1)  # noqa: E731
        self.eps = col(label_smoothing) if any(label_smoothing) else None  # (K, 1, 1), built once per fit
        self.l1s, self.l1, self.dev = l1, col(l1).view(-1), dev
        return self.model.make_optimizer(name, lr=lr, weight_decay=weight_decay, decay=decay, momentum=momentum,
                                         betas=betas)

    def check_scheduler(self, plateau: bool) -> None:
        if plateau:
            raise ValueError("ReduceLROnPlateau steps on one validation loss, and a stacked model has K; "
                             "use a schedule that does not read the loss, or train the runs one at a time with fit")

    def permutation(self, n: int, gens: list[torch.Generator]) -> torch.Tensor:
        """(K, n): model k's shuffle from its own generator, as ``fit(seed=seed_k)`` draws it."""
        return torch.stack([torch.randperm(n, generator=g) for g in gens])

    def transform(self, fn: Callable, Xb, tb, gens):
        """``fn`` on each model's batch with its own generator, as K single runs call it."""
        out = [fn(x, t, g) for x, t, g in zip(Xb, tb, gens)]
        return torch.stack([o[0] for o in out]), torch.stack([o[1] for o in out])

    def loss(self, logits: torch.Tensor, targets: torch.Tensor, loss_fn: LossFn | None) -> torch.Tensor:
        """(K,): model k's loss on its own batch (logits (K, B, C)), smoothed with its own eps."""
        if loss_fn is not None:
            return torch.stack([loss_fn(z, t) for z, t in zip(logits, targets)])
        K, C = self.num_models, logits.shape[-1]
        soft = targets.shape == logits.shape
        if self.eps is not None:  # smoothed soft targets, as label_smoothing builds them
            hard = targets.to(logits.dtype) if soft else F.one_hot(targets, C).to(logits.dtype)
            targets = (1 - self.eps) * hard + self.eps / C  # (K, B, C)
            soft = True
        per = F.cross_entropy(logits.flatten(0, -2), targets.flatten(0, -2) if soft else targets.flatten(),
                              reduction="none")
        return per.view(K, -1).mean(1)  # (K,)

    def z_loss(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.stack([z_loss_term(z) for z in logits])  # (K,)

    def l1_term(self) -> torch.Tensor:
        return self.l1 * self.model.l1_norms()  # (K,)

    def backward(self, loss: torch.Tensor) -> None:
        loss.sum().backward()  # d(sum)/d(model k) = d(loss_k)/d(model k)

    @torch.no_grad()
    def clip_(self, max_norm: float) -> None:
        """Scale model k's gradients so that their global norm is at most ``max_norm``, as clip_grad_norm_ does."""
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        norms = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads]).sum(0).sqrt()  # (K,)
        coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.view((-1,) + (1,) * (g.ndim - 1)))

    def prox_(self, opt) -> None:
        thr = torch.tensor([a * b for a, b in zip(opt.lrs(), self.l1s)], dtype=torch.float32, device=self.dev)
        self.model.prox_l1_(thr.view(-1, 1, 1))

    def lrs(self, opt) -> list[float]:
        return opt.lrs()

    def scores(self, logits: torch.Tensor, y: torch.Tensor, **kw) -> tuple[list[float], list[float]]:
        return loss_and_accuracy(logits, y, stacked=True, **kw)

    def logits_of(self, logits: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
        return {name: v[k] for name, v in logits.items()}

    def postfix(self, tl: list[float], vl: list[float]) -> dict:
        return {}

    def state(self, k: int) -> Callable[[], dict]:
        return lambda: self.model.model_state(k)

    def load(self, k: int) -> Callable[[dict], None]:
        return lambda state: self.model.load_model_state(k, state)

    def result(self, hists: list[History]) -> Histories:
        return Histories(hists)


def plan_for(model: nn.Module) -> SinglePlan:
    """``StackedPlan`` for a stacked model (``regviz.stacked.Stacked``), else ``SinglePlan``."""
    return StackedPlan(model) if isinstance(model, Stacked) else SinglePlan(model)
