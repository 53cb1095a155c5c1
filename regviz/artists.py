"""Artists and layout shared by the plot functions (``regviz.plots``) and the panel views (``regviz.views``).

An artist here is made once on an axes and then only moved (``set(...)``): a panel view builds its artists in
``setup(fig)`` and moves their data per picture; a plot function makes one and sets it once. Nothing here trains.
"""
from __future__ import annotations

import re
import warnings
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import LogFormatterSciNotation
import torch

from .history import History

METRICS = {"loss": ("train_loss", "val_loss", "cross-entropy loss"),
           "acc": ("train_acc", "val_acc", "accuracy")}


def new_axes(ax=None):
    """``ax``, or a new 6x4-inch axes when it is None: what every plot function draws on."""
    return ax if ax is not None else plt.subplots(figsize=(6, 4))[1]


def metric_keys(metric: str) -> tuple[str, str, str]:
    """``(train field, validation field, axis label)`` of ``metric`` ("loss" or "acc") in a History."""
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r}; allowed: {', '.join(METRICS)}")
    return METRICS[metric]


MARGINS = dict(left=0.07, right=0.98, bottom=0.14, top=0.86, wspace=0.3)


def set_margins(fig: Figure, **overrides: float) -> None:
    """Fixed subplot margins (``MARGINS``, then ``overrides``): the one layout of every panel picture.

    ``tight_layout`` would re-measure every tick label on every redraw (~0.3 s), so panels never use it.
    """
    fig.subplots_adjust(**{**MARGINS, **overrides})


def panel_axes(fig: Figure, ncols: int, *, width_ratios: Sequence[float] | None = None, **margins: float) -> list:
    """``ncols`` axes side by side on ``fig`` with ``set_margins``'s fixed margins (``margins`` override them)."""
    set_margins(fig, **margins)
    # titles at a fixed height (just above the axes): matplotlib would otherwise measure every tick label's
    # box on each draw to lift a title over them, about a fifth of a panel's redraw
    with plt.rc_context({"axes.titley": 1.0}):
        return list(fig.subplots(1, ncols, gridspec_kw={"width_ratios": width_ratios} if width_ratios else None,
                                 squeeze=False)[0])


def rescale(ax, *, x: bool = True, y: bool = True) -> None:
    """Fit the view to the artists' current data (after ``set_data``)."""
    ax.relim()
    with warnings.catch_warnings():  # "identical low and high xlims": widened just below
        warnings.simplefilter("ignore", UserWarning)
        ax.autoscale_view(scalex=x, scaley=y)
    for axis, on in (("x", x), ("y", y)):  # one point (or a flat line): widen, or the transform divides by 0
        lo, hi = getattr(ax, f"get_{axis}lim")()
        if on and abs(hi - lo) <= 1e-9 * max(abs(lo), abs(hi), 1e-12):
            log = getattr(ax, f"get_{axis}scale")() == "log"
            getattr(ax, f"set_{axis}lim")((lo / 3, hi * 3) if log else (lo - 0.5 - abs(lo) * 0.1, hi + 0.5 + abs(hi) * 0.1))


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


class _PlainLogFormatter(LogFormatterSciNotation):
    """``LogFormatterSciNotation``'s labels (10⁻², 2×10⁻¹) as plain text: each new mathtext label costs ~0.1 s to
    parse the first time it is drawn, which a panel would pay whenever a move shows new decades."""

    def __call__(self, x, pos=None):
        label = super().__call__(x, pos)
        m = re.fullmatch(r"\$\\mathdefault\{(.*)\}\$", label)
        if m is None:
            return label
        return re.sub(r"\^\{(-?\d+)\}", lambda e: e.group(1).translate(_SUPERSCRIPT), m.group(1).replace("\\times", "×"))


def log_scale(ax, axis: str = "y") -> None:
    """A log axis (base 10) whose tick labels are plain text (``_PlainLogFormatter``)."""
    getattr(ax, f"set_{axis}scale")("log")
    a = getattr(ax, f"{axis}axis")
    a.set_major_formatter(_PlainLogFormatter(10))
    a.set_minor_formatter(_PlainLogFormatter(10, labelOnlyBase=False))


def relabel(legend, labels: Sequence[str]) -> None:
    """New texts for an existing legend's entries, in order (the box resizes when drawn)."""
    for text, label in zip(legend.get_texts(), labels):
        text.set_text(label)


def finish(ax, *, xlabel: str, ylabel: str, title: str | None = None, grid_which: str = "major"):
    """Axis labels, optional title, a small legend and a light grid; returns ``ax``."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which=grid_which)
    return ax


class Curves:
    """One History's train (dashed) and validation (solid) curves on ``ax``, the gap between them shaded and the
    best epoch dotted; ``set(h)`` moves the data (the artists are made once)."""

    def __init__(self, ax, metric: str = "loss", *, colour: str = "C0", name: str = "", shade_gap: bool = True,
                 mark_best: bool = True, first: bool = True):
        self.ax, (self.tr_key, self.va_key, _) = ax, metric_keys(metric)
        self.train, = ax.plot([], [], "--", color=colour, label=f"{name}train")
        self.val, = ax.plot([], [], "-", color=colour, label=f"{name}validation")
        self.gap = ax.fill_between([], [], [], color=colour, alpha=0.15, lw=0,
                                   label="generalisation gap" if first else None) if shade_gap else None
        self.best = ax.plot([], [], "o", color=colour, ms=6, mfc="white",
                            label="best val. loss" if first else None)[0] if mark_best else None

    def set(self, h: History) -> None:
        ep, tr, va = h.epochs, getattr(h, self.tr_key), getattr(h, self.va_key)
        self.train.set_data(ep, tr)
        self.val.set_data(ep, va)
        if self.gap is not None:
            self.gap.set_data(ep, tr, va)
        if self.best is not None:
            b = h.best_epoch
            self.best.set_data([b], [va[b - 1]]) if b else self.best.set_data([], [])


def loss_curves(ax, title: str | None = None) -> Curves:
    """Empty train/validation loss curves on ``ax`` (log scale, labelled, legend) to ``set`` per picture."""
    curves = Curves(ax, "loss")
    log_scale(ax)
    finish(ax, xlabel="epoch", ylabel=METRICS["loss"][2], title=title)
    return curves


class Reliability:
    """A reliability diagram's artists on ``ax`` (one bar per bin, made once); ``set`` moves bars, dots and the
    legend text to new ``reliability_data``."""

    def __init__(self, ax, n_bins: int, colour: str = "C0"):
        self.ax, self.colour, self.legend = ax, colour, None
        self.bars = ax.bar([m / n_bins for m in range(n_bins)], [0.0] * n_bins, width=1 / n_bins, align="edge",
                           color=colour, alpha=0.45, edgecolor=colour)
        self.dots, = ax.plot([], [], "o", color=colour, ms=3)  # (mean confidence, accuracy)
        self.diagonal, = ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
        ax.set_xlim(0, 1); ax.set_ylim(0, 1)
        ax.set_xlabel("top-1 confidence"); ax.set_ylabel("accuracy in bin")
        ax.grid(alpha=0.3)

    def set(self, data: Mapping[str, Sequence[float]], *, label: str | None = None, ece: float | None = None):
        if len(data["count"]) != len(self.bars):
            raise ValueError(f"{len(data['count'])} bins, but this diagram was made for {len(self.bars)}")
        for bar, a, n in zip(self.bars, data["accuracy"], data["count"]):
            bar.set_visible(n > 0)  # an empty bin is skipped
            bar.set_height(a if n > 0 else 0.0)
        pts = [(c, a) for a, c, n in zip(data["accuracy"], data["confidence"], data["count"]) if n > 0]
        self.dots.set_data([p[0] for p in pts], [p[1] for p in pts])
        name = (label or "accuracy") + (f" (ECE {ece:.3f})" if ece is not None else "")
        if self.legend is None:
            proxy = Patch(facecolor=self.colour, edgecolor=self.colour, alpha=0.45)
            self.legend = self.ax.legend([self.diagonal, proxy], ["perfect calibration", name], fontsize=8,
                                         loc="upper left")
        else:
            relabel(self.legend, ["perfect calibration", name])


class Histogram:
    """Bars of a histogram on [0, 1] made once (``bins`` of them); ``set(values)`` changes their heights."""

    def __init__(self, ax, *, bins: int = 20, colour: str = "C0", alpha: float = 0.5, label: str | None = None):
        self.ax, self.bins = ax, bins
        self.bars = ax.hist([], bins=bins, range=(0, 1), alpha=alpha, color=colour, label=label)[2]

    def set(self, values) -> torch.Tensor:
        """Heights from ``values`` (a tensor or sequence); returns them as a float32 CPU tensor."""
        import numpy as np

        v = torch.as_tensor(values, dtype=torch.float32).cpu()
        counts, _ = np.histogram(v.numpy(), bins=self.bins, range=(0, 1))
        for bar, n in zip(self.bars, counts):
            bar.set_height(n)
        rescale(self.ax, x=False)
        return v


_PAD = 2  # pixels between gallery images


def gallery_image(X: torch.Tensor, nrow: int) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] tiled into one (H', W') or (H', W', C) image."""
    from torchvision.utils import make_grid

    if X.ndim != 4:
        raise ValueError(f"plot_gallery needs images (N, C, H, W), got shape {tuple(X.shape)}")
    grid = make_grid(X.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=_PAD, pad_value=0.5)
    return grid[0] if X.shape[1] == 1 else grid.permute(1, 2, 0)


def draw_gallery(ax, X: torch.Tensor, *, labels: Sequence[str] | None = None, nrow: int = 8,
                 title: str | None = None, cmap: str = "gray_r"):
    """Images (N, C, H, W) in [0, 1] as one grid on ``ax`` (``torchvision.utils.make_grid``), a caption under
    each of the optional ``labels``; returns ``ax``."""
    img = gallery_image(X, nrow)
    H, W = X.shape[-2:]
    ax.imshow(img.numpy(), cmap=cmap if X.shape[1] == 1 else None, vmin=0, vmax=1, interpolation="nearest")
    if labels is not None:
        for i, text in enumerate(labels):
            r, c = divmod(i, nrow)
            ax.text(_PAD + c * (W + _PAD) + W / 2, _PAD + r * (H + _PAD) + H + _PAD / 2 - 0.5, text, ha="center",
                    va="center", fontsize=7, color="darkred",
                    bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.7))
    ax.set_xticks([]); ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def update_gallery(ax, X: torch.Tensor, labels: Sequence[str], *, nrow: int, title: str) -> None:
    """``draw_gallery`` on ``ax`` again, reusing its image and captions when the layout is the same."""
    img = gallery_image(X, nrow)
    if ax.images and ax.images[0].get_array().shape == tuple(img.shape) and len(ax.texts) == len(labels):
        ax.images[0].set_data(img.numpy())
        for artist, text in zip(ax.texts, labels):
            artist.set_text(text)
        ax.set_title(title)
    else:
        ax.clear()
        draw_gallery(ax, X, labels=labels, nrow=nrow, title=title)
