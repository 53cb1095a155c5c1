"""Calibration recorded while training: a ``metrics`` hook for ``fit``, and ``fit`` with it and label smoothing.

Used by chapters 04 (label smoothing) and 05 (mixup / CutMix). The metrics are in ``regviz.metrics``; temperature
scaling and the other post-hoc tools are ``regviz.calibration``.
"""
from __future__ import annotations

import torch
from torch import nn

from ..data import Dataset
from ..device import resolve_device
from ..history import History
from ..metrics import expected_calibration_error, negative_log_likelihood
from ..train import fit


class CalibrationRecorder:
    """A ``metrics`` hook for ``regviz.fit``: from the validation logits ``fit`` has just computed, logs plain
    (unsmoothed) NLL, ECE, mean top-1 confidence and mean logit norm, and keeps each epoch's logits.

    Args:
        n_bins: ECE bins.
        keep_logits: store each epoch's validation logits (on the CPU) in ``self.logits``.

    After ``fit``: ``hist.extra["val_nll" | "val_ece" | "val_conf" | "logit_norm"]`` are per-epoch lists and
    ``self.logits`` is a list of (N, K) tensors, one per epoch.
    """

    def __init__(self, *, n_bins: int = 15, keep_logits: bool = True):
        self.n_bins, self.keep_logits = n_bins, keep_logits
        self.logits: list[torch.Tensor] = []

    def __call__(self, model: nn.Module, data: Dataset, logits: dict[str, torch.Tensor]) -> dict[str, float]:
        val, y = logits["val"], data.y_val  # (N, K), (N,)
        probs = val.softmax(-1)
        if self.keep_logits:
            self.logits.append(val.detach().cpu())
        return {"val_nll": negative_log_likelihood(probs, y),
                "val_ece": expected_calibration_error(probs, y, self.n_bins),
                "val_conf": float(probs.max(-1).values.mean()),
                "logit_norm": float(val.norm(dim=-1).mean())}


def fit_recording(model: nn.Module, data: Dataset, *, label_smoothing: float = 0.0, device=None,
                  **fit_kwargs) -> tuple[History, list[torch.Tensor]]:
    """``regviz.fit`` with ``label_smoothing`` (soft targets from a ``batch_transform`` also work) and a
    ``CalibrationRecorder`` on the validation set.

    Args:
        model, data, device, fit_kwargs: as in ``fit`` (``metrics`` is set here).
        label_smoothing: as in ``fit`` (training only: train/val loss and ``hist.extra["val_nll"]`` are
            plain cross-entropy).

    Returns:
        ``(history, logits)``: ``logits[e]`` is the (N_val, K) validation logits after epoch ``e + 1`` (CPU).
    """
    dev = resolve_device(device)
    data = data.to(dev)
    rec = CalibrationRecorder()
    hist = fit(model, data, device=dev, label_smoothing=label_smoothing, metrics=[rec], **fit_kwargs)
    return hist, rec.logits
