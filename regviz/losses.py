"""Losses beyond plain cross-entropy.

z-loss: Shazeer et al., Mesh-TensorFlow (2018); Chowdhery et al., "PaLM" (JMLR 2023, coefficient 1e-4);
router z-loss: Zoph et al., "ST-MoE" (2022).
"""
from __future__ import annotations

import torch


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
