"""Plots. Every function takes stored results (History objects, numbers), draws on ``ax`` and returns it.

Nothing here trains: a widget redraws from cached results.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import torch

from .history import History

_METRICS = {"loss": ("train_loss", "val_loss", "cross-entropy loss"),
            "acc": ("train_acc", "val_acc", "accuracy")}


def _ax(ax):
    return ax if ax is not None else plt.subplots(figsize=(6, 4))[1]


def _finish(ax, *, xlabel: str, ylabel: str, title: str | None = None, grid_which: str = "major"):
    """Axis labels, optional title, a small legend and a light grid; returns ``ax``."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which=grid_which)
    return ax


def plot_curves(hist: History | Mapping[str, History], *, metric: str = "loss", ax=None, shade_gap: bool = True,
                upto: int | None = None, mark_best: bool = True, title: str | None = None):
    """Train (dashed) and validation (solid) curves per epoch, the gap between them shaded.

    Args:
        hist: one History, or ``{label: History}`` to overlay several (one colour each).
        metric: ``"loss"`` or ``"acc"``.
        upto: draw only the first ``upto`` epochs.
        mark_best: dot at the epoch with the lowest validation loss.
    """
    if metric not in _METRICS:
        raise ValueError(f"metric={metric!r}; allowed: {', '.join(_METRICS)}")
    tr_key, va_key, ylabel = _METRICS[metric]
    ax = _ax(ax)
    runs = hist.items() if isinstance(hist, Mapping) else [(None, hist)]
    for i, (label, h) in enumerate(runs):
        h = h.truncated(upto) if upto else h
        colour = f"C{i}"
        ep, tr, va = h.epochs, getattr(h, tr_key), getattr(h, va_key)
        name = f"{label}: " if label is not None else ""
        ax.plot(ep, tr, "--", color=colour, label=f"{name}train")
        ax.plot(ep, va, "-", color=colour, label=f"{name}validation")
        if shade_gap and ep:
            ax.fill_between(ep, tr, va, color=colour, alpha=0.15, lw=0,
                            label="generalisation gap" if i == 0 else None)
        if mark_best and h.best_epoch:
            b = h.best_epoch
            ax.plot([b], [getattr(h, va_key)[b - 1]], "o", color=colour, ms=6, mfc="white",
                    label="best val. loss" if i == 0 else None)
    if metric == "loss":
        ax.set_yscale("log")
    return _finish(ax, xlabel="epoch", ylabel=ylabel, title=title)


def plot_sweep(values: Sequence[float], hists: Sequence[History], *, knob: str, metric: str = "loss",
               at: str = "final", logx: bool = False, ax=None, title: str | None = None):
    """A metric against a hyperparameter: train and validation, one point per run.

    Args:
        values: the knob's settings (x axis).  hists: one History per setting.
        at: ``"final"`` (last epoch) or ``"best"`` (epoch with the lowest validation loss).
    """
    if len(values) != len(hists):
        raise ValueError(f"{len(values)} values but {len(hists)} histories")
    if at not in ("final", "best"):
        raise ValueError(f"at={at!r}; allowed: 'final', 'best'")
    tr_key, va_key, ylabel = _METRICS[metric]
    ax = _ax(ax)
    idx = [(h.best_epoch - 1 if at == "best" else -1) for h in hists]
    ax.plot(values, [getattr(h, tr_key)[i] for h, i in zip(hists, idx)], "o--", label="train")
    ax.plot(values, [getattr(h, va_key)[i] for h, i in zip(hists, idx)], "o-", label="validation")
    if logx:
        ax.set_xscale("symlog", linthresh=min([abs(v) for v in values if v] or [1])) if 0 in values \
            else ax.set_xscale("log")
    ax.set_xlabel(knob)
    ax.set_ylabel(f"{ylabel} ({at} epoch)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


@torch.no_grad()
def plot_decision_boundary(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, *, ax=None,
                           resolution: int = 200, title: str | None = None):
    """Colour a 2-D plane by the model's predicted class and scatter the points (X: (N, 2), y: (N,))."""
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision boundaries need 2-D inputs, got X of shape {tuple(X.shape)}")
    ax = _ax(ax)
    Xc, yc = X.detach().cpu(), y.detach().cpu()
    lo, hi = Xc.min(0).values - 0.3, Xc.max(0).values + 0.3
    gx, gy = torch.meshgrid(torch.linspace(lo[0], hi[0], resolution), torch.linspace(lo[1], hi[1], resolution),
                            indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1)
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    pred = model(grid.to(dev)).argmax(1).cpu().reshape(resolution, resolution)
    model.train(was)
    k = int(max(yc.max(), pred.max())) + 1
    ax.contourf(gx, gy, pred, levels=torch.arange(k + 1) - 0.5, cmap="coolwarm" if k == 2 else "viridis", alpha=0.3)
    ax.scatter(Xc[:, 0], Xc[:, 1], c=yc, s=12, cmap="coolwarm" if k == 2 else "viridis", edgecolors="k", lw=0.3)
    ax.set_xticks([]); ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------- calibration and images (chapters 04-05)

def plot_reliability(data: Mapping[str, Sequence[float]], *, ax=None, label: str | None = None, colour: str = "C0",
                     ece: float | None = None, title: str | None = None):
    """Reliability diagram: accuracy per confidence bin as bars against the diagonal (perfect calibration).

    Args:
        data: ``regviz.metrics.reliability_data(probs, y)`` (bin edges, accuracy, confidence, count).
        label: legend entry; ``ece`` (if given) is appended to it.
    Bars below the diagonal: overconfident in that bin; above: underconfident. Empty bins are skipped.
    """
    ax = _ax(ax)
    edges = data["edges"]
    width = edges[1] - edges[0]
    pts = [(lo, a, c) for lo, a, c, n in zip(edges[:-1], data["accuracy"], data["confidence"], data["count"]) if n > 0]
    name = (label or "accuracy") + (f" (ECE {ece:.3f})" if ece is not None else "")
    ax.bar([p[0] for p in pts], [p[1] for p in pts], width=width, align="edge", color=colour, alpha=0.45,
           edgecolor=colour, label=name)
    ax.plot([p[2] for p in pts], [p[1] for p in pts], "o", color=colour, ms=3)  # (mean confidence, accuracy)
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    ax.set_xlim(0, 1); ax.set_ylim(0, 1)
    ax.set_xlabel("top-1 confidence"); ax.set_ylabel("accuracy in bin")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return ax


def plot_confidence_hist(confidences: Mapping[str, Sequence[float]], *, ax=None, bins: int = 20,
                         title: str | None = None):
    """Histograms of top-1 confidence, one per run (``{label: confidences}``), on [0, 1]."""
    ax = _ax(ax)
    for i, (label, conf) in enumerate(confidences.items()):
        c = torch.as_tensor(conf, dtype=torch.float32).cpu()
        ax.hist(c.numpy(), bins=bins, range=(0, 1), alpha=0.5, color=f"C{i}",
                label=f"{label} (mean {float(c.mean()):.2f})")
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
    from torchvision.utils import make_grid

    if X.ndim != 4:
        raise ValueError(f"plot_gallery needs images (N, C, H, W), got shape {tuple(X.shape)}")
    ax = _ax(ax)
    pad = 2
    H, W = X.shape[-2:]
    grid = make_grid(X.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=pad, pad_value=0.5)
    img = grid[0] if X.shape[1] == 1 else grid.permute(1, 2, 0)
    ax.imshow(img.numpy(), cmap=cmap if X.shape[1] == 1 else None, vmin=0, vmax=1, interpolation="nearest")
    if labels is not None:
        for i, text in enumerate(labels):
            r, c = divmod(i, nrow)
            ax.text(pad + c * (W + pad) + W / 2, pad + r * (H + pad) + H + pad / 2 - 0.5, text, ha="center",
                    va="center", fontsize=7, color="darkred",
                    bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.7))
    ax.set_xticks([]); ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def plot_projection(points: torch.Tensor, y: torch.Tensor, *, ax=None, title: str | None = None):
    """Scatter of 2-D points (N, 2) coloured by label (N,), e.g. ``calibration.template_projection``."""
    ax = _ax(ax)
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


def plot_lm_baselines(hist: History, baselines: Mapping[str, float], *, init_loss: float | None = None, ax=None,
                      title: str | None = None):
    """An LM's train/validation loss per epoch against count-model baselines (horizontal lines).

    Args:
        hist: the LM's History (losses in nats/char).  baselines: ``{name: validation loss}``.
        init_loss: validation loss before training, drawn at epoch 0.
    """
    ax = _ax(ax)
    ep, tr, va = hist.epochs, hist.train_loss, hist.val_loss
    if init_loss is not None:
        ep, tr, va = [0] + ep, [init_loss] + tr, [init_loss] + va
    ax.plot(ep, tr, "o--", color="C0", label="transformer: train")
    ax.plot(ep, va, "o-", color="C0", label="transformer: validation")
    for i, (name, loss) in enumerate(baselines.items()):
        ax.axhline(loss, color=f"C{i + 1}", ls=":", label=f"{name} counts: {loss:.2f}")
    return _finish(ax, xlabel="epoch (passes over the training text)", ylabel="cross-entropy (nats/char)", title=title)


def plot_lr_sensitivity(table: Mapping[str, Mapping[float, float]], *, ax=None, ceiling: float | None = None,
                        title: str | None = None):
    """Final validation loss against peak learning rate, one line per variant (log x axis).

    Args:
        table: ``{variant: {lr: final validation loss}}``.
        ceiling: losses above it (or non-finite) are drawn at the ceiling with an "x" (diverged or useless).
    """
    ax = _ax(ax)
    markers = "osD^v<>"
    for i, (name, by_lr) in enumerate(table.items()):
        lrs = sorted(by_lr)
        ys = [by_lr[lr] for lr in lrs]
        off = [ceiling is not None and not (math.isfinite(y) and y <= ceiling) for y in ys]
        shown = [ceiling if o else y for y, o in zip(ys, off)]
        ax.plot(lrs, shown, "-", marker=markers[i % len(markers)], color=f"C{i}", label=name, ms=5)
        if any(off):
            ax.plot([lr for lr, o in zip(lrs, off) if o], [ceiling] * sum(off), "x", color=f"C{i}", ms=9, mew=2)
    ax.set_xscale("log")
    return _finish(ax, xlabel="peak learning rate", ylabel="final validation loss (nats/char)", title=title,
                   grid_which="both")


def plot_series(series: Mapping[str, Sequence[float]], *, ylabel: str, ax=None, yscale: str = "linear",
                hline: float | None = None, title: str | None = None):
    """Per-epoch series (e.g. mean log Z, largest attention logit) of several runs, one line each.

    Args:
        series: ``{label: values}``, one value per epoch (epoch 1 first).
        yscale: "linear", "log", or "symlog" (linear near 0, logarithmic beyond 1 in magnitude).
    """
    if yscale not in ("linear", "log", "symlog"):
        raise ValueError(f"yscale={yscale!r}; allowed: 'linear', 'log', 'symlog'")
    ax = _ax(ax)
    for i, (name, ys) in enumerate(series.items()):
        ax.plot(range(1, len(ys) + 1), list(ys), "o-", color=f"C{i}", label=name, ms=4)
    if hline is not None:
        ax.axhline(hline, color="k", lw=0.8, ls=":")
    ax.set_yscale(yscale, **({"linthresh": 1.0} if yscale == "symlog" else {}))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _finish(ax, xlabel="epoch", ylabel=ylabel, title=title)
