"""History: what one training run produced, per epoch, with the config that produced it."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


@dataclass
class History:
    """Per-epoch metrics of one run. Epochs are numbered from 1; index ``i`` of each list is epoch ``i + 1``.

    Attributes:
        train_loss, val_loss, train_acc, val_acc: one float per epoch (train metrics measured in eval mode).
        lr: learning rate in effect during each epoch.
        config: the arguments the run used (JSON-friendly).
        best_epoch: epoch (1-based) with the lowest validation loss; 0 before any epoch.
        stop_reason: why training ended ("completed", "early stopping: ...", "diverged: ...").
        seconds: wall-clock training time.
        extra: any further per-epoch series a chapter records (e.g. ``"log_z"``).
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    best_epoch: int = 0
    stop_reason: str = "completed"
    seconds: float = 0.0
    extra: dict[str, list[float]] = field(default_factory=dict)

    @property
    def epochs(self) -> list[int]:
        """Epoch numbers 1..n."""
        return list(range(1, len(self.val_loss) + 1))

    @property
    def num_epochs(self) -> int:
        return len(self.val_loss)

    @property
    def loss_gap(self) -> list[float]:
        """Generalisation gap in loss, per epoch: val_loss - train_loss."""
        return [v - t for t, v in zip(self.train_loss, self.val_loss)]

    @property
    def acc_gap(self) -> list[float]:
        """Generalisation gap in accuracy, per epoch: train_acc - val_acc."""
        return [t - v for t, v in zip(self.train_acc, self.val_acc)]

    @property
    def diverged(self) -> bool:
        """True if any recorded loss is NaN or infinite."""
        return any(not math.isfinite(x) for x in self.train_loss + self.val_loss)

    def update_best(self) -> None:
        """Recompute ``best_epoch`` from ``val_loss`` (ignoring non-finite values)."""
        finite = [(v, i) for i, v in enumerate(self.val_loss) if math.isfinite(v)]
        self.best_epoch = min(finite)[1] + 1 if finite else 0

    def final(self) -> dict[str, float]:
        """Last epoch's metrics plus the gaps, as a flat dict (handy for tables)."""
        if not self.val_loss:
            return {}
        return {"train_loss": self.train_loss[-1], "val_loss": self.val_loss[-1],
                "train_acc": self.train_acc[-1], "val_acc": self.val_acc[-1],
                "loss_gap": self.loss_gap[-1], "acc_gap": self.acc_gap[-1]}

    def truncated(self, num_epochs: int) -> "History":
        """A copy holding only the first ``num_epochs`` epochs (best_epoch recomputed)."""
        series = {k: getattr(self, k)[:num_epochs] for k in ("train_loss", "val_loss", "train_acc", "val_acc", "lr")}
        h = History(**series, config=dict(self.config), stop_reason=self.stop_reason, seconds=self.seconds,
                    extra={k: v[:num_epochs] for k, v in self.extra.items()})
        h.update_best()
        return h

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(**d)


class Histories(list):
    """The K Histories of one stacked run (``fit`` on a stacked model, ``sweep``), in model order: a list."""
