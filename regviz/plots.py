"""Plots. Every function takes stored results (History objects, numbers), draws on ``ax`` and returns it.

Nothing here trains: a widget redraws from cached results. A chapter panel's picture is a ``PanelView``:
``setup(fig)`` builds its axes and artists once, ``update(result, settings)`` only moves data, limits and
texts, so a new picture costs one Agg draw instead of building a figure.
"""
from __future__ import annotations

import math
import re
import warnings
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import LogFormatterSciNotation, MaxNLocator
import torch

from .history import History
from .layers import eval_mode
from .metrics import diagnose, expected_calibration_error, reliability_data
from .stats import summarize

_METRICS = {"loss": ("train_loss", "val_loss", "cross-entropy loss"),
            "acc": ("train_acc", "val_acc", "accuracy")}


def _ax(ax):
    return ax if ax is not None else plt.subplots(figsize=(6, 4))[1]


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


def _rescale(ax, *, x: bool = True, y: bool = True) -> None:
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


def _log_scale(ax, axis: str = "y") -> None:
    """A log axis (base 10) whose tick labels are plain text (``_PlainLogFormatter``)."""
    getattr(ax, f"set_{axis}scale")("log")
    a = getattr(ax, f"{axis}axis")
    a.set_major_formatter(_PlainLogFormatter(10))
    a.set_minor_formatter(_PlainLogFormatter(10, labelOnlyBase=False))


def _relabel(legend, labels: Sequence[str]) -> None:
    """New texts for an existing legend's entries, in order (the box resizes when drawn)."""
    for text, label in zip(legend.get_texts(), labels):
        text.set_text(label)


def _finish(ax, *, xlabel: str, ylabel: str, title: str | None = None, grid_which: str = "major"):
    """Axis labels, optional title, a small legend and a light grid; returns ``ax``."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which=grid_which)
    return ax


class _Curves:
    """One History's train (dashed) and validation (solid) curves on ``ax``, the gap between them shaded and the
    best epoch dotted; ``set(h)`` moves the data (the artists are made once)."""

    def __init__(self, ax, metric: str = "loss", *, colour: str = "C0", name: str = "", shade_gap: bool = True,
                 mark_best: bool = True, first: bool = True):
        if metric not in _METRICS:
            raise ValueError(f"metric={metric!r}; allowed: {', '.join(_METRICS)}")
        self.ax, (self.tr_key, self.va_key, _) = ax, _METRICS[metric]
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
    ax = _ax(ax)
    runs = hist.items() if isinstance(hist, Mapping) else [(None, hist)]
    for i, (label, h) in enumerate(runs):
        _Curves(ax, metric, colour=f"C{i}", name=f"{label}: " if label is not None else "", shade_gap=shade_gap,
                mark_best=mark_best, first=i == 0).set(h.truncated(upto) if upto else h)
    if metric == "loss":
        ax.set_yscale("log")
    _rescale(ax)
    return _finish(ax, xlabel="epoch", ylabel=_METRICS[metric][2], title=title)


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
    with eval_mode(model):
        pred = model(grid.to(dev)).argmax(1).cpu().reshape(resolution, resolution)
    k = int(max(yc.max(), pred.max())) + 1
    ax.contourf(gx, gy, pred, levels=torch.arange(k + 1) - 0.5, cmap="coolwarm" if k == 2 else "viridis", alpha=0.3)
    ax.scatter(Xc[:, 0], Xc[:, 1], c=yc, s=12, cmap="coolwarm" if k == 2 else "viridis", edgecolors="k", lw=0.3)
    ax.set_xticks([]); ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------- calibration and images (chapters 04-05)

class _Reliability:
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
            _relabel(self.legend, ["perfect calibration", name])


def plot_reliability(data: Mapping[str, Sequence[float]], *, ax=None, label: str | None = None, colour: str = "C0",
                     ece: float | None = None, title: str | None = None):
    """Reliability diagram: accuracy per confidence bin as bars against the diagonal (perfect calibration).

    Args:
        data: ``regviz.metrics.reliability_data(probs, y)`` (bin edges, accuracy, confidence, count).
        label: legend entry; ``ece`` (if given) is appended to it.
    Bars below the diagonal: overconfident in that bin; above: underconfident. Empty bins are skipped.
    """
    ax = _ax(ax)
    _Reliability(ax, len(data["count"]), colour).set(data, label=label, ece=ece)
    if title:
        ax.set_title(title)
    return ax


class _Histogram:
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
        _rescale(self.ax, x=False)
        return v


def plot_confidence_hist(confidences: Mapping[str, Sequence[float]], *, ax=None, bins: int = 20,
                         title: str | None = None):
    """Histograms of top-1 confidence, one per run (``{label: confidences}``), on [0, 1]."""
    ax = _ax(ax)
    for i, (label, conf) in enumerate(confidences.items()):
        hist = _Histogram(ax, bins=bins, colour=f"C{i}")
        hist.bars.set_label(f"{label} (mean {float(hist.set(conf).mean()):.2f})")
    ax.set_xlabel("top-1 confidence"); ax.set_ylabel("examples")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


_PAD = 2  # pixels between gallery images


def _gallery_image(X: torch.Tensor, nrow: int) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] tiled into one (H', W') or (H', W', C) image."""
    from torchvision.utils import make_grid

    if X.ndim != 4:
        raise ValueError(f"plot_gallery needs images (N, C, H, W), got shape {tuple(X.shape)}")
    grid = make_grid(X.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=_PAD, pad_value=0.5)
    return grid[0] if X.shape[1] == 1 else grid.permute(1, 2, 0)


def plot_gallery(X: torch.Tensor, *, labels: Sequence[str] | None = None, nrow: int = 8, ax=None,
                 title: str | None = None, cmap: str = "gray_r"):
    """Images (N, C, H, W) in [0, 1] as one grid (``torchvision.utils.make_grid``), a caption under each.

    Args:
        labels: optional N short captions (e.g. class or soft-target text).
        nrow: images per row.
    """
    img = _gallery_image(X, nrow)
    ax = _ax(ax)
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


def _update_gallery(ax, X: torch.Tensor, labels: Sequence[str], *, nrow: int, title: str) -> None:
    """``plot_gallery`` on ``ax`` again, reusing its image and captions when the layout is the same."""
    img = _gallery_image(X, nrow)
    if ax.images and ax.images[0].get_array().shape == tuple(img.shape) and len(ax.texts) == len(labels):
        ax.images[0].set_data(img.numpy())
        for artist, text in zip(ax.texts, labels):
            artist.set_text(text)
        ax.set_title(title)
    else:
        ax.clear()
        plot_gallery(X, labels=labels, nrow=nrow, ax=ax, title=title)


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


def plot_seed_sweep(runs: Mapping[float, Sequence[float]], *, knob: str, ylabel: str, ax=None,
                    baseline: Sequence[float] | None = None, baseline_label: str = "baseline",
                    title: str | None = None):
    """Chapter 03: one score against a knob over several seeds: mean with ±2 SE error bars, seeds as dots.

    Args:
        runs: ``{knob value: [score per seed]}`` (e.g. best validation accuracy of each seed at each p).
        baseline: optional scores of a reference model per seed, drawn as a horizontal band (mean ± 2 SE).
    """
    if not runs:
        raise ValueError("runs is empty; give {knob value: [score per seed]}")
    ax = _ax(ax)
    xs = list(runs)
    stats = [summarize(v) for v in runs.values()]
    err = [0.0 if math.isnan(s.se) else 2 * s.se for s in stats]
    n = min(s.n for s in stats)
    ax.errorbar(xs, [s.mean for s in stats], yerr=err, fmt="o-", capsize=4, color="C0",
                label=f"mean ± 2 SE ({n} seeds)")
    for x, vals in runs.items():
        ax.plot([x] * len(vals), list(vals), ".", color="C0", alpha=0.35, ms=5)
    if baseline is not None:
        b = summarize(baseline)
        half = 0.0 if math.isnan(b.se) else 2 * b.se
        ax.axhspan(b.mean - half, b.mean + half, color="C3", alpha=0.15)
        ax.axhline(b.mean, color="C3", ls="--", lw=1, label=f"{baseline_label}: {b}")
    return _finish(ax, xlabel=knob, ylabel=ylabel, title=title)


def plot_histograms(values: Mapping[str, Sequence[float]], *, xlabel: str, bins: int = 20, ax=None,
                    marks: Mapping[str, float] | None = None, density: bool = False, title: str | None = None):
    """Chapter 03: histograms of several samples on shared bins, plus optional labelled vertical lines.

    Args:
        values: ``{label: numbers}``, one histogram each.  marks: ``{label: x}``, one dashed line each.
    """
    if not values:
        raise ValueError("values is empty; give {label: numbers}")
    ax = _ax(ax)
    ax.hist([list(map(float, v)) for v in values.values()], bins=bins, label=list(values), density=density)
    for i, (label, x) in enumerate((marks or {}).items()):
        ax.axvline(x, color="k" if i == 0 else f"C{len(values) + i}", ls="--", lw=1, label=label)
    return _finish(ax, xlabel=xlabel, ylabel="density" if density else "count", title=title)


def plot_seed_curves(runs: Mapping[str, Sequence[History]], *, metric: str = "acc", marks: Mapping[str, Sequence[int]]
                     | None = None, mark_label: str = "restored epoch (each seed)", train_label: str = "train",
                     ax=None, title: str | None = None):
    """Chapter 06: validation (solid) and train (dashed) curves averaged over seeds, ±2 SE band on validation.

    Args:
        runs: ``{label: [History per seed]}`` (runs of one label share their length).
        metric: ``"loss"`` or ``"acc"``.
        marks: optional ``{label: [epoch per seed]}`` (1-based), drawn as dots on each seed's validation value,
            e.g. the epoch early stopping restores; ``mark_label`` names them in the legend.
        train_label: legend name of the training curves (e.g. "train (noisy labels)").
    """
    if metric not in _METRICS:
        raise ValueError(f"metric={metric!r}; allowed: {', '.join(_METRICS)}")
    tr_key, va_key, ylabel = _METRICS[metric]
    ax = _ax(ax)
    for i, (label, hists) in enumerate(runs.items()):
        if not hists:
            raise ValueError(f"runs[{label!r}] is empty; give at least one History")
        n = min(h.num_epochs for h in hists)
        ep = list(range(1, n + 1))
        va = [summarize([getattr(h, va_key)[e - 1] for h in hists]) for e in ep]
        tr = [summarize([getattr(h, tr_key)[e - 1] for h in hists]).mean for e in ep]
        half = [0.0 if math.isnan(s.se) else 2 * s.se for s in va]
        ax.plot(ep, tr, "--", color=f"C{i}", label=f"{label}: {train_label}")
        ax.plot(ep, [s.mean for s in va], "-", color=f"C{i}", label=f"{label}: validation, mean of {len(hists)} seeds")
        ax.fill_between(ep, [s.mean - h for s, h in zip(va, half)], [s.mean + h for s, h in zip(va, half)],
                        color=f"C{i}", alpha=0.2, lw=0)
        for j, (e, h) in enumerate(zip((marks or {}).get(label, ()), hists)):
            ax.plot([e], [getattr(h, va_key)[e - 1]], "o", color=f"C{i}", mfc="white", ms=6,
                    label=mark_label if i == 0 and j == 0 else None)
    if metric == "loss":
        ax.set_yscale("log")
    return _finish(ax, xlabel="epoch", ylabel=ylabel, title=title)


# ---------------------------------------------------------------- panel views (one per chapter panel)

class PanelView:
    """A chapter panel's picture, drawn in two steps so that a new picture only moves data.

    ``setup(fig)`` builds the axes and artists once; ``update(result, settings)`` sets line data, bar heights,
    limits and texts from a stored result (``settings``: every slider, view-only ones included). The panel
    (``regviz.widgets.SliderPanel``) calls ``setup`` once and ``update`` per picture, then saves a PNG; after an
    error in ``update`` it clears the figure and calls ``setup`` again.
    """

    def setup(self, fig: Figure) -> None:
        raise NotImplementedError

    def update(self, result: Any, settings: Mapping[str, Any]) -> None:
        raise NotImplementedError


def _loss_curves(ax, title: str | None = None) -> _Curves:
    """Empty train/validation loss curves on ``ax`` (log scale, labelled, legend) to ``set`` per picture."""
    curves = _Curves(ax, "loss")
    _log_scale(ax)
    _finish(ax, xlabel="epoch", ylabel=_METRICS["loss"][2], title=title)
    return curves


class CurvesView(PanelView):
    """Chapter 01: loss and accuracy curves up to the ``epochs`` slider, gap shaded, diagnosis in the title."""

    def setup(self, fig):
        ax1, self.ax2 = panel_axes(fig, 2, wspace=0.25)
        self.loss, self.acc = _loss_curves(ax1, "loss (log scale)"), _Curves(self.ax2, "acc")
        _finish(self.ax2, xlabel="epoch", ylabel=_METRICS["acc"][2], title="accuracy")
        self.ax2.set_ylim(0, 1.02)
        self.title = fig.suptitle("", fontsize=10)

    def update(self, hist, settings):
        h = hist.truncated(settings.get("epochs", hist.num_epochs))
        self.loss.set(h)
        self.acc.set(h)
        _rescale(self.loss.ax)
        _rescale(self.ax2, y=False)
        f = h.final()
        self.title.set_text(f"epoch {h.num_epochs}: gap (val - train loss) = {f['loss_gap']:.3f}, "
                            f"val acc = {f['val_acc']:.3f} -> {diagnose(h)}")


class PenaltyView(PanelView):
    """Chapter 02: loss curves | histogram of the weights at the shown epoch | loss against lambda.

    Args:
        runs: ``{(penalty, lam): {"history", "weights"}}``, every run trained so far (read at each update).
        zero_at: where lambda = 0 is drawn on the log lambda axis.
        small: "near zero" for the histogram's title.
    """

    def __init__(self, runs: Mapping[tuple[str, float], Mapping], *, zero_at: float, small: float = 1e-3,
                 weight_range: float = 0.4, bins: int = 80):
        self.runs, self.zero_at, self.small = runs, zero_at, small
        self.edges = torch.linspace(-weight_range, weight_range, bins + 1)

    def setup(self, fig):
        self.ax1, self.ax2, self.ax3 = ax1, ax2, ax3 = panel_axes(fig, 3, top=0.9, wspace=0.32, right=0.99,
                                                                  bottom=0.15)
        self.curves = _loss_curves(ax1)
        n = len(self.edges) - 1
        self.stairs = ax2.stairs([1.0] * n, self.edges.numpy(), fill=True, color="C2", baseline=0.5)
        _log_scale(ax2)
        ax2.set_ylabel("count (log)")
        ax2.set_xlabel("weight value")
        self.val, = ax3.plot([], [], "o-", label="validation")
        self.train, = ax3.plot([], [], "o--", label="train")
        self.now = ax3.axvline(self.zero_at, color="k", lw=0.8)
        _log_scale(ax3, "x")
        _log_scale(ax3)
        ax3.set_xlabel("lambda (leftmost point: 0)")
        ax3.legend(fontsize=8)
        ax3.grid(alpha=0.3)

    def update(self, res, settings):
        ep, penalty, lam = settings["epochs"], settings["penalty"], settings["lam"]
        h = res["history"].truncated(ep)
        if h.diverged:
            raise ValueError(f"this run diverged: {h.stop_reason}")
        self.curves.set(h)
        _rescale(self.ax1)
        self.ax1.set_title(f"loss, {penalty} lambda={lam:g}")
        w = res["weights"][ep]
        lo, hi = float(self.edges[0]), float(self.edges[-1])
        counts = torch.histc(w, bins=len(self.edges) - 1, min=lo, max=hi).clamp(min=0.5)  # 0.5: empty bins on a log axis
        self.stairs.set_data(counts.numpy())
        _rescale(self.ax2)
        small = (w.abs() < self.small).float().mean().item()
        self.ax2.set_title(f"weights at epoch {ep}: {small:.1%} with |w| < {self.small:g}", fontsize=9)
        pts = sorted((lm, r["history"].truncated(ep)) for (pen, lm), r in self.runs.items() if pen == penalty)
        xs = [lm if lm > 0 else self.zero_at for lm, _ in pts]
        self.val.set_data(xs, [hh.val_loss[-1] for _, hh in pts])
        self.train.set_data(xs, [hh.train_loss[-1] for _, hh in pts])
        cur = lam if lam > 0 else self.zero_at
        self.now.set_xdata([cur, cur])
        _rescale(self.ax3)
        self.ax3.set_title(f"loss at epoch {ep} vs lambda (trained so far)", fontsize=9)


class DropoutView(PanelView):
    """Chapter 03: loss curves of one p | validation loss of every p | final loss and gap against p.

    Args:
        grid: ``{p: History}`` of every p (read at each update).
    """

    def __init__(self, grid: Mapping[float, History]):
        self.grid = grid
        self.lines: dict[float, Any] = {}

    def setup(self, fig):
        self.ax1, self.ax2, self.ax3 = ax1, ax2, ax3 = panel_axes(fig, 3, top=0.9, wspace=0.32, right=0.99,
                                                                  bottom=0.15)
        self.curves = _loss_curves(ax1)
        _log_scale(ax2)
        ax2.set_xlabel("epoch")
        ax2.set_title("validation loss, every p", fontsize=9)
        ax2.grid(alpha=0.3)
        self.lines, self.notes = {}, {}
        self.val, = ax3.plot([], [], "o-", label="validation loss")
        self.gap, = ax3.plot([], [], "s--", label="gap (val - train loss)")
        self.now = ax3.axvline(0, color="k", lw=0.8)
        ax3.set_xlabel("dropout p")
        ax3.legend(fontsize=8)
        ax3.grid(alpha=0.3)

    def update(self, hist, settings):
        ep, cur = settings["epochs"], settings["p"]
        self.curves.set(hist.truncated(ep))
        _rescale(self.ax1)
        self.ax1.set_title(f"loss, dropout p={cur:g}")
        ps = list(self.grid)
        hs = [g.truncated(ep) for g in self.grid.values()]
        if list(self.lines) != ps:  # the grid changed: one line and one note per p, made again
            for artist in [*self.lines.values(), *self.notes.values()]:
                artist.remove()
            self.lines = {p: self.ax2.plot([], [], color=f"C{i}", label=f"p={p:g}")[0] for i, p in enumerate(ps)}
            self.notes = {p: self.ax3.annotate("", (p, 1.0), fontsize=7, xytext=(0, 6), textcoords="offset points",
                                               ha="center") for p in ps}
            self.legend2 = self.ax2.legend(fontsize=7)
        for (p, g), handle in zip(zip(ps, hs), self.legend2.legend_handles):
            self.lines[p].set_data(g.epochs, g.val_loss)
            self.lines[p].set_linewidth(2.5 if p == cur else 1.0)
            handle.set_linewidth(2.5 if p == cur else 1.0)
            self.notes[p].xy = (p, g.val_loss[-1])
            self.notes[p].set_text(f"best ep {g.best_epoch}")
        _rescale(self.ax2)
        self.val.set_data(ps, [g.val_loss[-1] for g in hs])
        self.gap.set_data(ps, [g.loss_gap[-1] for g in hs])
        self.now.set_xdata([cur, cur])
        _rescale(self.ax3)
        self.ax3.set_title(f"at epoch {ep}", fontsize=9)


class CalibrationView(PanelView):
    """Chapter 04: NLL and ECE per epoch | reliability diagram at the chosen epoch | confidence histogram.

    The result holds ``hist``, per-epoch validation ``logits`` (E, N, K), labels ``y`` and, for the
    ``calibrate="temperature"`` setting, ``temperature`` {epoch: ``calibration.temperature_held_out`` result}.
    """

    def __init__(self, n_bins: int = 15):
        self.n_bins = n_bins

    def setup(self, fig):
        ax1, self.ax2, self.ax3 = panel_axes(fig, 3, left=0.05, wspace=0.38)
        self.ax1, self.ax1b = ax1, ax1.twinx()
        self.nll, = ax1.plot([], [], "C0-", label="val NLL")
        self.train, = ax1.plot([], [], "C0--", label="train NLL")
        self.ece, = self.ax1b.plot([], [], "C3-", label="val ECE")
        self.ax1b.set_ylabel("ECE", color="C3")
        self.now = ax1.axvline(1, color="k", lw=0.8, ls=":")
        ax1.set_xlabel("epoch"); ax1.set_ylabel("loss"); ax1.set_title("loss and calibration per epoch", fontsize=10)
        self.legend1 = ax1.legend(fontsize=7, loc="upper left")
        self.ax1b.legend(fontsize=7, loc="upper right")
        self.reliability = _Reliability(self.ax2, self.n_bins)
        self.conf = _Histogram(self.ax3, label="top-1 confidence")
        self.acc_line = self.ax3.axvline(0, color="k", ls="--", lw=1, label="accuracy")
        self.ax3.set_xlabel("top-1 confidence"); self.ax3.set_ylabel("examples")
        self.ax3.set_title("confidence on validation")
        self.legend3 = self.ax3.legend([self.conf.bars, self.acc_line], ["top-1 confidence", "accuracy"], fontsize=8)
        self.title = fig.suptitle("", fontsize=10)

    def update(self, result, settings):
        hist, y = result["hist"], result["y"]
        epoch = min(settings.get("epochs", hist.num_epochs), hist.num_epochs)
        logits = result["logits"][epoch - 1]  # (N, K)
        ep = hist.epochs
        self.nll.set_data(ep, hist.extra["val_nll"])
        self.train.set_data(ep, hist.train_loss)
        # fit reports plain cross-entropy: smoothing is in the training objective only
        _relabel(self.legend1, ["val NLL", f"train NLL (trained with eps={settings['eps']:g})"])
        self.ece.set_data(ep, hist.extra["val_ece"])
        self.ax1b.set_ylim(0, max(0.5, max(hist.extra["val_ece"]) * 1.05))
        self.now.set_xdata([epoch, epoch])
        _rescale(self.ax1)
        if settings.get("calibrate") == "temperature":
            cal = result["temperature"][epoch]  # T fitted on one half of validation, judged on the other
            probs, yy, what = cal["after"], cal["y"], f"temperature T={cal['T']:.2f} (held-out half)"
        else:
            probs, yy, what = logits.softmax(-1), y, "raw softmax"
        ece = expected_calibration_error(probs, yy, n_bins=self.n_bins)
        self.reliability.set(reliability_data(probs, yy, n_bins=self.n_bins), ece=ece)
        self.ax2.set_title(what)
        top = probs.max(-1).values
        self.conf.set(top)
        acc = float((probs.argmax(-1) == yy).float().mean())
        self.acc_line.set_xdata([acc, acc])
        _relabel(self.legend3, [f"top-1 confidence (mean {float(top.mean()):.2f})", f"accuracy {acc:.2f}"])
        self.title.set_text(f"epoch {epoch}: val acc {acc:.3f}, ECE {ece:.3f}, mean confidence "
                            f"{float(top.mean()):.3f}")


class MixingView(PanelView):
    """Chapter 05: lambda histogram | mixed previews | reliability diagram of the trained model.

    The result holds ``hist``, final validation ``logits`` (N, K), labels ``y``, ``lambdas`` (draws of the mixing
    weight) and ``preview`` ``(X, captions)``.
    """

    def __init__(self, n_bins: int = 15, nrow: int = 4):
        self.n_bins, self.nrow = n_bins, nrow

    def setup(self, fig):
        self.ax1, self.ax2, ax3 = panel_axes(fig, 3, width_ratios=[1, 1.4, 1], left=0.05, bottom=0.15, top=0.85)
        self.lam = _Histogram(self.ax1, colour="C2", alpha=1.0)
        self.ax1.set_xlabel("lambda (weight of the image's own label)"); self.ax1.set_ylabel("draws")
        self.reliability = _Reliability(ax3, self.n_bins)
        ax3.set_title("validation calibration")
        self.title = fig.suptitle("", fontsize=10)

    def update(self, result, settings):
        method, alpha = settings["method"], settings["alpha"]
        self.lam.set(result["lambdas"])
        self.ax1.set_title(f"lambda ~ Beta({alpha:g}, {alpha:g})" if alpha else "alpha = 0: no mixing", fontsize=10)
        X, caps = result["preview"]
        _update_gallery(self.ax2, X, caps, nrow=self.nrow,
                        title=f"{method} previews (soft targets)" if alpha else "originals")
        probs, y, h = result["logits"].softmax(-1), result["y"], result["hist"]
        self.reliability.set(reliability_data(probs, y, n_bins=self.n_bins), ece=h.extra["val_ece"][-1])
        self.title.set_text(f"{method if alpha else 'no mixing'}, alpha={alpha:g}: train acc {h.train_acc[-1]:.3f}, "
                            f"val acc {h.val_acc[-1]:.3f}, val NLL {h.extra['val_nll'][-1]:.3f}, "
                            f"mean confidence {h.extra['val_conf'][-1]:.3f}")


def plot_vs_size(series: Mapping[str, Mapping[int, Sequence[float]]], *, ax=None, ylabel: str = "validation accuracy",
                 title: str | None = None):
    """Chapter 05: a metric against training-set size, one line per setting, error bars of ±2 SE over seeds.

    Args:
        series: ``{label: {n_train: [value per seed]}}`` (e.g. best validation accuracy per seed).
    """
    ax = _ax(ax)
    for i, (label, by_n) in enumerate(series.items()):
        ns = sorted(by_n)
        s = [summarize(by_n[n]) for n in ns]
        ax.errorbar(ns, [v.mean for v in s], yerr=[2 * v.se for v in s], fmt="o-", capsize=3, color=f"C{i}",
                    label=f"{label} (mean ± 2 SE, {s[0].n} seeds)")
    ax.set_xscale("log")
    ax.set_xticks(sorted({n for by_n in series.values() for n in by_n}))
    ax.get_xaxis().set_major_formatter(plt.ScalarFormatter())
    ax.legend(fontsize=8)
    return _finish(ax, xlabel="n_train (log scale)", ylabel=ylabel, title=title)


def plot_lambda_errorbars(lambdas: Sequence[float], values: Sequence[Sequence[float]], *, ax=None,
                          ylabel: str = "validation accuracy", label: str | None = None, title: str | None = None):
    """Chapter 02: a metric against lambda (symlog x, so lambda = 0 fits), mean over seeds with ±2 SE error bars.

    Args:
        lambdas: the K settings.  values: K lists, one value per seed each.
    """
    if len(lambdas) != len(values):
        raise ValueError(f"{len(lambdas)} lambdas but {len(values)} lists of values")
    ax = _ax(ax)
    s = [summarize(v) for v in values]
    ax.errorbar(list(lambdas), [v.mean for v in s], yerr=[2 * v.se if v.n > 1 else 0.0 for v in s], fmt="o-",
                capsize=3, label=label or f"mean ± 2 SE, {s[0].n} seeds")
    nonzero = [abs(v) for v in lambdas if v]
    if 0 in lambdas and nonzero:
        ax.set_xscale("symlog", linthresh=min(nonzero))
    elif nonzero:
        ax.set_xscale("log")
    return _finish(ax, xlabel="weight_decay λ", ylabel=ylabel, title=title)


def plot_seed_bars(values: Mapping[str, Sequence[float]], *, ax=None, ylabel: str, title: str | None = None):
    """Chapter 05: one bar per setting at the mean over seeds, ±2 SE error bars, each seed as a dot.

    Args:
        values: ``{setting: [value per seed]}``.
    """
    ax = _ax(ax)
    for i, (label, vals) in enumerate(values.items()):
        s = summarize(vals)
        ax.bar(i, s.mean, yerr=2 * s.se, capsize=4, color=f"C{i}", alpha=0.5)
        ax.plot([i] * len(vals), list(vals), "k.", ms=5)
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels(list(values), fontsize=8)
    lo = min(min(v) for v in values.values())
    hi = max(max(v) for v in values.values())
    pad = 0.15 * (hi - lo) + 1e-9
    ax.set_ylim(max(0.0, lo - 3 * pad) if lo > 0.5 * hi else 0.0, hi + pad)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    return ax


class StoppingView(PanelView):
    """Chapter 06: loss curves with the stop epoch and the restored (best) epoch marked | stop epoch vs patience.

    The result holds ``hist`` and ``stops`` {(patience, min_delta): (stop_epoch, best_epoch)} replayed on it.
    """

    def setup(self, fig):
        self.ax, self.ax2 = ax, ax2 = panel_axes(fig, 2, width_ratios=[2, 1], top=0.9, wspace=0.2)
        self.train, = ax.plot([], [], "--", color="C0", label="train")
        self.val, = ax.plot([], [], "-", color="C1", label="validation")
        self.saved = ax.axvspan(1, 2, color="grey", alpha=0.15, label="epochs saved")
        self.stop = ax.axvline(1, color="k", lw=1, label="stop")
        self.best, = ax.plot([], [], "o", color="C3", ms=8, label="restored")
        ax.set_xlabel("epoch"); ax.set_ylabel("cross-entropy loss"); _log_scale(ax)
        self.legend = ax.legend(fontsize=7); ax.grid(alpha=0.3)
        self.stops, = ax2.plot([], [], "o-", color="k")
        self.now, = ax2.plot([], [], "o", color="C3", ms=9)
        self.best_run = ax2.axhline(1, color="C3", ls=":", lw=1, label="best epoch of the run")
        ax2.set_xlabel("patience"); ax2.set_ylabel("stop epoch")
        self.legend2 = ax2.legend(fontsize=7); ax2.grid(alpha=0.3)

    def update(self, result, settings):
        hist, stops = result["hist"], result["stops"]
        patience, min_delta = settings["patience"], settings["min_delta"]
        stop, best = stops[(patience, min_delta)]
        ep = hist.epochs
        self.train.set_data(ep, hist.train_loss)
        self.val.set_data(ep, hist.val_loss)
        self.saved.set_x(stop)
        self.saved.set_width(len(ep) + 0.5 - stop)
        self.stop.set_xdata([stop, stop])
        self.best.set_data([best], [hist.val_loss[best - 1]])
        _relabel(self.legend, ["train", "validation", "epochs saved", f"stop (epoch {stop})",
                               f"restored: epoch {best}, val {hist.val_loss[best - 1]:.3f}"])
        _rescale(self.ax)
        self.ax.set_title(f"patience={patience}, min_delta={min_delta:g}: restored val acc "
                          f"{hist.val_acc[best - 1]:.3f} (final {hist.val_acc[-1]:.3f})", fontsize=9)
        patiences = sorted(p for p, d in stops if d == min_delta)
        self.stops.set_data(patiences, [stops[(p, min_delta)][0] for p in patiences])
        self.now.set_data([patience], [stop])
        self.best_run.set_ydata([hist.best_epoch, hist.best_epoch])
        _relabel(self.legend2, [f"best epoch of the run ({hist.best_epoch})"])
        _rescale(self.ax2)


class LMView(PanelView):
    """Chapter 07: train/val loss of this setting and of z-loss 0 at the same p | mean validation log Z.

    The result holds ``hist`` (this setting) and ``reference`` (z-loss 0, same p); ``extra["log_z"]`` per epoch.
    """

    def setup(self, fig):
        self.ax, self.ax2 = ax, ax2 = panel_axes(fig, 2, top=0.9, wspace=0.25)
        self.lines = []
        for colour in ("grey", "C0"):  # reference, this setting
            train, = ax.plot([], [], "--", color=colour, label="train")
            val, = ax.plot([], [], "-", color=colour, label="validation")
            log_z, = ax2.plot([], [], "-", color=colour, label="z-loss")
            self.lines.append((train, val, log_z))
        ax.set_xlabel("epoch"); ax.set_ylabel("cross-entropy (nats/char)")
        self.legend = ax.legend(fontsize=7); ax.grid(alpha=0.3)
        ax2.axhline(0, color="k", lw=0.8)
        ax2.set_xlabel("epoch"); ax2.set_ylabel("mean log Z on validation")
        self.legend2 = ax2.legend(fontsize=7); ax2.grid(alpha=0.3)

    def update(self, result, settings):
        h, ref = result["hist"], result["reference"]
        names = ("z-loss 0", f"z-loss {settings['z_loss_coef']:g}")
        for (train, val, log_z), hh in zip(self.lines, (ref, h)):
            train.set_data(hh.epochs, hh.train_loss)
            val.set_data(hh.epochs, hh.val_loss)
            log_z.set_data(hh.epochs, hh.extra["log_z"])
        _relabel(self.legend, [f"{n}: {part}" for n in names for part in ("train", "validation")])
        _relabel(self.legend2, names)
        _rescale(self.ax)
        _rescale(self.ax2)
        self.ax.set_title(f"p={settings['p']:g}: val loss best {min(h.val_loss):.3f}, final {h.val_loss[-1]:.3f}",
                          fontsize=9)
        self.ax2.set_title(f"final log Z: {h.extra['log_z'][-1]:.2f} (z-loss 0: {ref.extra['log_z'][-1]:.2f})",
                           fontsize=9)
