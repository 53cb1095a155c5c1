"""Interpolated Kneser-Ney character n-gram models: the fair count baseline for a character language model.

Kneser & Ney, "Improved backing-off for M-gram language modeling", ICASSP 1995; the interpolated form of
Chen & Goodman, "An Empirical Study of Smoothing Techniques for Language Modeling", TR-10-98 (1998/1999), eq. 17:

    P_m(w | h) = max(c_m(h w) - D, 0) / c_m(h) + D * N1+(h .) / c_m(h) * P_{m-1}(w | h'),   h' = h without its
    first character; when c_m(h) = 0 the model falls back to P_{m-1}. P_0 is uniform over the vocabulary.

c_n is the raw count at the highest order n; below it, c_m(h w) is the continuation count N1+(. h w): the number
of distinct characters seen before h w. Counts are read inside each block, as the transformer sees them.
"""
from __future__ import annotations

import math

import torch

from .data import Dataset
from .validate import check_int


def _sequences(X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N, T) inputs and next characters -> (N, T + 1) character sequences (y is X shifted by one)."""
    return torch.cat([X[:, :1], y], dim=1).cpu().long()


def _grams(seq: torch.Tensor, m: int, V: int) -> torch.Tensor:
    """Every m-gram inside each row as one integer code: (N, T + 2 - m), base V, first character most significant."""
    L = seq.shape[1]
    if m > L:
        return seq[:, :0]
    code = torch.zeros_like(seq[:, : L - m + 1])
    for i in range(m):
        code = code * V + seq[:, i: L - m + 1 + i]
    return code


def _lookup(keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """values[k] where keys[k] == query (keys sorted, unique), else 0."""
    if keys.numel() == 0:
        return torch.zeros_like(query, dtype=values.dtype)
    query = query.contiguous()
    idx = torch.searchsorted(keys, query).clamp(max=keys.numel() - 1)
    return torch.where(keys[idx] == query, values[idx], torch.zeros((), dtype=values.dtype))


def kn_log_probs(train: torch.Tensor, evaluate: torch.Tensor, n: int, V: int, *,
                 discount: float = 0.75) -> torch.Tensor:
    """log P_KN of every character of ``evaluate`` after the first, given the characters before it in its row.

    Args:
        train: (N, L) int64 training sequences (counts never cross a row's ends).
        evaluate: (M, L') int64 sequences to score.
        n: the model's order (2 = bigram ... 5); a position with fewer than n - 1 characters before it is scored
            by the model of the order it has, as a transformer with a short context would be.
        V: vocabulary size.
        discount: D in (0, 1).

    Returns:
        (M, L' - 1) float64 natural-log probabilities.
    """
    check_int("n", n, low=1)
    if not 0 < discount < 1:
        raise ValueError(f"discount={discount!r}: use a number in (0, 1)")
    if V ** n >= 2**62:
        raise ValueError(f"n={n} with a vocabulary of {V}: codes overflow int64; use a smaller n")
    # 1. counts per order: raw at the top, continuation counts (distinct left neighbours) below
    tables = {}
    for m in range(1, n + 1):
        if m == n:
            keys, counts = torch.unique(_grams(train, m, V), return_counts=True)
        else:  # distinct (m+1)-grams, each contributing one to the m-gram it ends with
            keys, counts = torch.unique(torch.unique(_grams(train, m + 1, V)) % V ** m, return_counts=True)
        ctx, inverse = torch.unique(keys // V, return_inverse=True)  # the (m-1)-character history of each key
        total = torch.zeros(len(ctx), dtype=torch.float64).index_add_(0, inverse, counts.double())
        types = torch.zeros(len(ctx), dtype=torch.float64).index_add_(0, inverse, torch.ones(len(keys), dtype=torch.float64))
        tables[m] = (keys, counts.double(), ctx, total, types)
    # 2. interpolate from the uniform distribution up, at every evaluated position
    M, L = evaluate.shape
    p = torch.full((M, L - 1), 1.0 / V, dtype=torch.float64)
    for m in range(1, n + 1):
        keys, counts, ctx, total, types = tables[m]
        # the m-gram starting at column k ends at position k + m - 1 of the row; p's column c is position c + 1
        grams = _grams(evaluate, m, V)
        if m == 1:
            grams, first = grams[:, 1:], 0  # position 0 has no target
        else:
            first = m - 2
        if grams.shape[1] == 0:
            break
        c_hw = _lookup(keys, counts, grams)
        c_h = _lookup(ctx, total, grams // V)
        n1 = _lookup(ctx, types, grams // V)
        lower = p[:, first:]
        mixed = (torch.clamp(c_hw - discount, min=0) + discount * n1 * lower) / c_h.clamp(min=1)
        p[:, first:] = torch.where(c_h > 0, mixed, lower)
    return p.log()


def kneser_ney_loss(data: Dataset, n: int, *, discount: float = 0.75) -> float:
    """Validation cross-entropy (nats/char) of an interpolated Kneser-Ney n-gram model fitted on the training blocks.

    Args:
        data: from ``text.lm_dataset``: X (N, T) inputs, y (N, T) next characters, V = ``data.num_classes``.
        n: order, 2 (bigram) to 5; contexts are read inside each block.
        discount: the absolute discount D (0.75 is Chen & Goodman's usual single value).

    Returns:
        Mean negative log-likelihood per validation character, in nats.
    """
    check_int("n", n, low=2)
    logp = kn_log_probs(_sequences(data.X_train, data.y_train), _sequences(data.X_val, data.y_val), n,
                        data.num_classes, discount=discount)
    loss = -float(logp.mean())
    if not math.isfinite(loss):  # cannot happen with P_0 uniform; a guard against a silent nan in a table
        raise ValueError(f"Kneser-Ney loss is {loss}: check the data")
    return loss
