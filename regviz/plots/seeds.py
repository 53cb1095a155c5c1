"""Scores over several seeds: means with ±2 SE error bars, every seed as a dot, and histograms of samples.

Every function takes stored numbers, draws on ``ax`` (a new one if None) and returns it; nothing here trains.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt

from ..artists import finish, new_axes
from ..stats import summarize


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
    ax = new_axes(ax)
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
    return finish(ax, xlabel=knob, ylabel=ylabel, title=title)


def plot_lambda_errorbars(lambdas: Sequence[float], values: Sequence[Sequence[float]], *, ax=None,
                          ylabel: str = "validation accuracy", label: str | None = None, title: str | None = None):
    """Chapter 02: a metric against lambda (symlog x, so lambda = 0 fits), mean over seeds with ±2 SE error bars.

    Args:
        lambdas: the K settings.  values: K lists, one value per seed each.
    """
    if len(lambdas) != len(values):
        raise ValueError(f"{len(lambdas)} lambdas but {len(values)} lists of values")
    ax = new_axes(ax)
    s = [summarize(v) for v in values]
    ax.errorbar(list(lambdas), [v.mean for v in s], yerr=[2 * v.se if v.n > 1 else 0.0 for v in s], fmt="o-",
                capsize=3, label=label or f"mean ± 2 SE, {s[0].n} seeds")
    nonzero = [abs(v) for v in lambdas if v]
    if 0 in lambdas and nonzero:
        ax.set_xscale("symlog", linthresh=min(nonzero))
    elif nonzero:
        ax.set_xscale("log")
    return finish(ax, xlabel="weight_decay λ", ylabel=ylabel, title=title)


def plot_seed_bars(values: Mapping[str, Sequence[float]], *, ax=None, ylabel: str, title: str | None = None):
    """Chapter 05: one bar per setting at the mean over seeds, ±2 SE error bars, each seed as a dot.

    Args:
        values: ``{setting: [value per seed]}``.
    """
    ax = new_axes(ax)
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


def plot_vs_size(series: Mapping[str, Mapping[int, Sequence[float]]], *, ax=None, ylabel: str = "validation accuracy",
                 title: str | None = None):
    """Chapter 05: a metric against training-set size, one line per setting, error bars of ±2 SE over seeds.

    Args:
        series: ``{label: {n_train: [value per seed]}}`` (e.g. best validation accuracy per seed).
    """
    ax = new_axes(ax)
    for i, (label, by_n) in enumerate(series.items()):
        ns = sorted(by_n)
        s = [summarize(by_n[n]) for n in ns]
        ax.errorbar(ns, [v.mean for v in s], yerr=[2 * v.se for v in s], fmt="o-", capsize=3, color=f"C{i}",
                    label=f"{label} (mean ± 2 SE, {s[0].n} seeds)")
    ax.set_xscale("log")
    ax.set_xticks(sorted({n for by_n in series.values() for n in by_n}))
    ax.get_xaxis().set_major_formatter(plt.ScalarFormatter())
    ax.legend(fontsize=8)
    return finish(ax, xlabel="n_train (log scale)", ylabel=ylabel, title=title)


def plot_histograms(values: Mapping[str, Sequence[float]], *, xlabel: str, bins: int = 20, ax=None,
                    marks: Mapping[str, float] | None = None, density: bool = False, title: str | None = None):
    """Chapter 03: histograms of several samples on shared bins, plus optional labelled vertical lines.

    Args:
        values: ``{label: numbers}``, one histogram each.  marks: ``{label: x}``, one dashed line each.
    """
    if not values:
        raise ValueError("values is empty; give {label: numbers}")
    ax = new_axes(ax)
    ax.hist([list(map(float, v)) for v in values.values()], bins=bins, label=list(values), density=density)
    for i, (label, x) in enumerate((marks or {}).items()):
        ax.axvline(x, color="k" if i == 0 else f"C{len(values) + i}", ls="--", lw=1, label=label)
    return finish(ax, xlabel=xlabel, ylabel="density" if density else "count", title=title)
