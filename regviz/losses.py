"""Losses beyond plain cross-entropy.

Label smoothing: Szegedy et al., "Rethinking the Inception Architecture for Computer Vision" (CVPR 2016).
z-loss: Shazeer et al., Mesh-TensorFlow (2018); Chowdhery et al., "PaLM" (JMLR 2023, coefficient 1e-4);
router z-loss: Zoph et al., "ST-MoE" (2022).
"""
from __future__ import annotations

import torch

from .validate import check_choice, check_int, check_number

SMOOTHING_CONVENTIONS = ("pytorch", "others")


def _check_eps(eps: float, num_classes: int) -> None:
    check_int("num_classes", num_classes, low=2)
    check_number("eps", eps, low=0.0, high=1.0)


def smooth_targets(y: torch.Tensor, num_classes: int, eps: float, *, convention: str = "pytorch") -> torch.Tensor:
    """Label-smoothed soft targets.

    ``convention="pytorch"`` (Szegedy et al. 2016, ``nn.CrossEntropyLoss(label_smoothing=eps)``):
    ``(1 - eps) * one_hot + eps / K``, so the true class gets ``1 - eps + eps / K``.
    ``convention="others"`` (seen in some code): ``1 - eps`` on the true class, ``eps / (K - 1)`` elsewhere.

    Args:
        y: (N,) int64 class labels.
        num_classes: K.
        eps: smoothing in [0, 1].

    Returns:
        (N, K) float32 targets; each row sums to 1. ``y`` is not modified.
    """
    _check_eps(eps, num_classes)
    check_choice("convention", convention, SMOOTHING_CONVENTIONS)
    if y.ndim != 1 or y.dtype.is_floating_point:
        raise ValueError(f"y must be (N,) integer labels, got dtype {y.dtype} and shape {tuple(y.shape)}")
    one_hot = torch.nn.functional.one_hot(y, num_classes).float()  # (N, K)
    if convention == "pytorch":
        return one_hot * (1.0 - eps) + eps / num_classes
    off = eps / (num_classes - 1)
    return one_hot * (1.0 - eps - off) + off


def soft_target_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ``-sum_k targets[k] * log_softmax(logits)[k]``.

    Args:
        logits: (N, K).
        targets: (N, K) probabilities (rows sum to 1), e.g. from ``smooth_targets`` or mixup;
            (N,) integer labels are accepted too (plain cross-entropy).

    Returns:
        A scalar tensor.
    """
    if targets.ndim == 1 and not targets.dtype.is_floating_point:
        targets = torch.nn.functional.one_hot(targets, logits.shape[-1]).to(logits.dtype)
    if targets.shape != logits.shape:
        raise ValueError(f"targets of shape {tuple(targets.shape)} do not match logits {tuple(logits.shape)}")
    log_p = logits.log_softmax(-1)  # (N, K)
    return -(targets * log_p).sum(-1).mean()


def z_loss(logits: torch.Tensor) -> torch.Tensor:
    """Mean over tokens of ``logsumexp(logits)**2``: pulls the softmax normaliser log Z towards 0.

    Softmax is unchanged when a constant is added to every logit, so cross-entropy alone leaves
    log Z free to drift; this term pins it. It does not penalise the sum of the logits and does not
    change which token is likely (shifting every logit by -log Z zeroes it without changing softmax).

    Args:
        logits: (..., vocab) unnormalised scores; every leading position counts as one token.

    Returns:
        A scalar tensor (add ``coef * z_loss(logits)`` to the loss; PaLM used ``coef = 1e-4``).
    """
    if logits.ndim < 1 or logits.shape[-1] < 1:
        raise ValueError(f"logits must have a last (vocabulary) dimension, got shape {tuple(logits.shape)}")
    log_z = torch.logsumexp(logits.float(), dim=-1)  # (...,), in float32 even for bf16 logits
    return log_z.pow(2).mean()
