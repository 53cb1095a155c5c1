"""Per-epoch pictures: learning curves, one metric against a knob, per-epoch series, an LM against its baselines.

Every function takes stored results (History objects, numbers), draws on ``ax`` (a new one if None) and
returns it; nothing here trains.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

from matplotlib.ticker import MaxNLocator

from ..artists import Curves, finish, metric_keys, new_axes, rescale
from ..history import History
from ..stats import summarize


def plot_curves(hist: History | Mapping[str, History], *, metric: str = "loss", ax=None, shade_gap: bool = True,
                upto: int | None = None, mark_best: bool = True, title: str | None = None):
    """Train (dashed) and validation (solid) curves per epoch, the gap between them shaded.

    Args:
        hist: one History, or ``{label: History}`` to overlay several (one colour each).
        metric: ``"loss"`` or ``"acc"``.
        upto: draw only the first ``upto`` epochs.
        mark_best: dot at the epoch with the lowest validation loss.
    """
    ylabel = metric_keys(metric)[2]  # a ValueError for an unknown metric, before any drawing
    ax = new_axes(ax)
    runs = hist.items() if isinstance(hist, Mapping) else [(None, hist)]
    for i, (label, h) in enumerate(runs):
        Curves(ax, metric, colour=f"C{i}", name=f"{label}: " if label is not None else "", shade_gap=shade_gap,
               mark_best=mark_best, first=i == 0).set(h.truncated(upto) if upto else h)
    if metric == "loss":
        ax.set_yscale("log")
    rescale(ax)
    return finish(ax, xlabel="epoch", ylabel=ylabel, title=title)


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
    tr_key, va_key, ylabel = metric_keys(metric)
    ax = new_axes(ax)
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
    tr_key, va_key, ylabel = metric_keys(metric)
    ax = new_axes(ax)
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
    return finish(ax, xlabel="epoch", ylabel=ylabel, title=title)


def plot_series(series: Mapping[str, Sequence[float]], *, ylabel: str, ax=None, yscale: str = "linear",
                hline: float | None = None, title: str | None = None):
    """Per-epoch series (e.g. mean log Z, largest attention logit) of several runs, one line each.

    Args:
        series: ``{label: values}``, one value per epoch (epoch 1 first).
        yscale: "linear", "log", or "symlog" (linear near 0, logarithmic beyond 1 in magnitude).
    """
    if yscale not in ("linear", "log", "symlog"):
        raise ValueError(f"yscale={yscale!r}; allowed: 'linear', 'log', 'symlog'")
    ax = new_axes(ax)
    for i, (name, ys) in enumerate(series.items()):
        ax.plot(range(1, len(ys) + 1), list(ys), "o-", color=f"C{i}", label=name, ms=4)
    if hline is not None:
        ax.axhline(hline, color="k", lw=0.8, ls=":")
    ax.set_yscale(yscale, **({"linthresh": 1.0} if yscale == "symlog" else {}))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return finish(ax, xlabel="epoch", ylabel=ylabel, title=title)


def plot_lm_baselines(hist: History, baselines: Mapping[str, float], *, init_loss: float | None = None, ax=None,
                      title: str | None = None):
    """An LM's train/validation loss per epoch against count-model baselines (horizontal lines).

    Args:
        hist: the LM's History (losses in nats/char).  baselines: ``{name: validation loss}``.
        init_loss: validation loss before training, drawn at epoch 0.
    """
    ax = new_axes(ax)
    ep, tr, va = hist.epochs, hist.train_loss, hist.val_loss
    if init_loss is not None:
        ep, tr, va = [0] + ep, [init_loss] + tr, [init_loss] + va
    ax.plot(ep, tr, "o--", color="C0", label="transformer: train")
    ax.plot(ep, va, "o-", color="C0", label="transformer: validation")
    for i, (name, loss) in enumerate(baselines.items()):
        ax.axhline(loss, color=f"C{i + 1}", ls=":", label=f"{name} counts: {loss:.2f}")
    return finish(ax, xlabel="epoch (passes over the training text)", ylabel="cross-entropy (nats/char)", title=title)


def plot_lr_sensitivity(table: Mapping[str, Mapping[float, float]], *, ax=None, ceiling: float | None = None,
                        title: str | None = None):
    """Final validation loss against peak learning rate, one line per variant (log x axis).

    Args:
        table: ``{variant: {lr: final validation loss}}``.
        ceiling: losses above it (or non-finite) are drawn at the ceiling with an "x" (diverged or useless).
    """
    ax = new_axes(ax)
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
    return finish(ax, xlabel="peak learning rate", ylabel="final validation loss (nats/char)", title=title,
                  grid_which="both")
