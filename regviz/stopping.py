"""Early stopping on validation loss, deciding in one small method (Prechelt, "Early Stopping - But When?", 1998).

``EarlyStopping`` owns the whole stop decision of ``fit``: divergence (a non-finite loss) and patience, and the
restore of the best epoch's weights at the end.
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch

from .validate import check_int, check_number

State = dict[str, torch.Tensor]


class EarlyStopping:
    """Stop when a loss is non-finite, or when the validation loss has not improved by more than ``min_delta`` for
    ``patience`` epochs.

    Args:
        patience: epochs without improvement tolerated before stopping (>= 1); None = stop only on divergence.
        min_delta: an improvement must beat the best loss by more than this (>= 0).
        restore_best: if True, ``restore`` (which ``fit`` calls when training ends) reloads the best epoch's weights.
    """

    def __init__(self, patience: int | None = 5, min_delta: float = 0.0, restore_best: bool = True):
        if patience is not None:
            check_int("patience", patience)
        check_number("min_delta", min_delta)
        self.patience, self.min_delta, self.restore_best = patience, float(min_delta), restore_best
        self.reset()

    @property
    def config(self) -> dict:
        """The settings, as ``History.config["early_stopping"]`` records them."""
        return dict(patience=self.patience, min_delta=self.min_delta, restore_best=self.restore_best)

    def reset(self) -> None:
        self.best_loss = math.inf
        self.best_epoch = 0
        self.wait = 0
        self.best_state: State | None = None

    def start(self, num_models: int = 1) -> list["EarlyStopping"]:
        """Reset, and return one rule per model: this one first, then fresh copies with the same settings."""
        self.reset()
        return [self] + [EarlyStopping(self.patience, self.min_delta, self.restore_best) for _ in range(num_models - 1)]

    def step(self, epoch: int, val_loss: float, model: torch.nn.Module | None = None, *,
             train_loss: float | None = None, state: Callable[[], State] | None = None) -> tuple[bool, str]:
        """Record epoch ``epoch``'s losses; return ``(should_stop, reason)``.

        Args:
            val_loss, train_loss: this epoch's losses; either one non-finite stops at once ("diverged: ...").
            model: whose weights are copied whenever the validation loss improves (if ``restore_best``).
            state: instead of ``model``, a function returning the weights to keep (one model of a stacked one).
        """
        if train_loss is not None and not math.isfinite(train_loss):
            return True, f"diverged: loss became {train_loss} at epoch {epoch}"
        if not math.isfinite(val_loss):
            return True, f"diverged: loss became {val_loss} at epoch {epoch}"
        if self.patience is None and not self.restore_best:
            return False, ""
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.wait = val_loss, epoch, 0
            if self.restore_best and (state is not None or model is not None):
                self.best_state = state() if state is not None else copy.deepcopy(model.state_dict())
            return False, ""
        self.wait += 1
        if self.patience is not None and self.wait >= self.patience:
            return True, (f"early stopping: no improvement > {self.min_delta:g} in validation loss for "
                          f"{self.patience} epochs (best epoch {self.best_epoch})")
        return False, ""

    def restore(self, model: torch.nn.Module | None = None, *, load: Callable[[State], None] | None = None) -> bool:
        """Reload the best epoch's weights (if ``restore_best`` and one was kept) into ``model``, or through
        ``load``; return whether it did."""
        if not (self.restore_best and self.best_state is not None):
            return False
        (load if load is not None else model.load_state_dict)(self.best_state)
        return True
