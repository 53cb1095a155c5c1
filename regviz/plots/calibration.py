"""Calibration and image pictures (chapters 04-05): reliability diagrams, confidence histograms, image
galleries and 2-D projections of penultimate features.

Every function takes stored results, draws on ``ax`` (a new one if None) and returns it; nothing here trains.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch

from ..artists import Histogram, Reliability, draw_gallery, new_axes


def plot_reliability(data: Mapping[str, Sequence[float]], *, ax=None, label: str | None = None, colour: str = "C0",
                     ece: float | None = None, title: str | None = None):
    """Reliability diagram: accuracy per confidence bin as bars against the diagonal (perfect calibration).

    Args:
        data: ``regviz.metrics.reliability_data(probs, y)`` (bin edges, accuracy, confidence, count).
        label: legend entry; ``ece`` (if given) is appended to it.
    Bars below the diagonal: overconfident in that bin; above: underconfident. Empty bins are skipped.
    """
    ax = new_axes(ax)
    Reliability(ax, len(data["count"]), colour).set(data, label=label, ece=ece)
    if title:
        ax.set_title(title)
    return ax


def plot_confidence_hist(confidences: Mapping[str, Sequence[float]], *, ax=None, bins: int = 20,
                         title: str | None = None):
    """Histograms of top-1 confidence, one per run (``{label: confidences}``), on [0, 1]."""
    ax = new_axes(ax)
    for i, (label, conf) in enumerate(confidences.items()):
        hist = Histogram(ax, bins=bins, colour=f"C{i}")
        hist.bars.set_label(f"{label} (mean {float(hist.set(conf).mean()):.2f})")
    ax.set_xlabel("top-1 confidence"); ax.set_ylabel("examples")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def plot_gallery(X: torch.Tensor, *, labels: Sequence[str] | None = None, nrow: int = 8, ax=None,
                 title: str | None = None, cmap: str = "gray_r"):
    """Images (N, C, H, W) in [0, 1] as one grid (``torchvision.utils.make_grid``), a caption under each.

    Args:
        labels: optional N short captions (e.g. class or soft-target text).
        nrow: images per row.
    """
    return draw_gallery(new_axes(ax), X, labels=labels, nrow=nrow, title=title, cmap=cmap)


def plot_projection(points: torch.Tensor, y: torch.Tensor, *, ax=None, title: str | None = None):
    """Scatter of 2-D points (N, 2) coloured by label (N,), e.g. ``calibration.template_projection``."""
    ax = new_axes(ax)
    P, Y = points.detach().float().cpu(), y.detach().cpu()
    for i, k in enumerate(Y.unique().tolist()):
        m = Y == k
        ax.scatter(P[m, 0], P[m, 1], s=6, alpha=0.6, color=f"C{i}", label=f"class {k}")
    ax.set_aspect("equal", adjustable="datalim")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, markerscale=2)
    ax.grid(alpha=0.3)
    return ax
