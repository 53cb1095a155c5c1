"""Early stopping on validation loss, deciding in one small method (Prechelt, "Early Stopping - But When?", 1998)."""
from __future__ import annotations

import copy
import math

import torch

from .validate import check_int, check_number


class EarlyStopping:
    """Stop when the validation loss has not improved by more than ``min_delta`` for ``patience`` epochs.

    Args:
        patience: epochs without improvement tolerated before stopping (>= 1).
        min_delta: an improvement must beat the best loss by more than this (>= 0).
        restore_best: if True, ``fit`` reloads the weights of the best epoch when training ends.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, restore_best: bool = True):
        check_int("patience", patience)
        check_number("min_delta", min_delta)
        self.patience, self.min_delta, self.restore_best = patience, float(min_delta), restore_best
        self.reset()

    def reset(self) -> None:
        self.best_loss = math.inf
        self.best_epoch = 0
        self.wait = 0
        self.best_state: dict[str, torch.Tensor] | None = None

    def step(self, epoch: int, val_loss: float, model: torch.nn.Module | None = None) -> tuple[bool, str]:
        """Record epoch ``epoch``'s validation loss; return ``(should_stop, reason)``.

        Keeps a copy of the model's weights whenever the loss improves (if ``restore_best``).
        """
        if not math.isfinite(val_loss):
            return True, f"diverged: validation loss is {val_loss} at epoch {epoch}"
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.wait = val_loss, epoch, 0
            if self.restore_best and model is not None:
                self.best_state = copy.deepcopy(model.state_dict())
            return False, ""
        self.wait += 1
        if self.wait >= self.patience:
            return True, (f"early stopping: no improvement > {self.min_delta:g} in validation loss for "
                          f"{self.patience} epochs (best epoch {self.best_epoch})")
        return False, ""
