"""Plots: every function takes stored results (History objects, numbers), draws on ``ax`` and returns it.

Nothing here trains. The functions live in three modules (per-epoch ``curves``, over-seed ``seeds``,
``calibration`` and images); the artists they share are in ``regviz.artists`` and the chapter panels' pictures
in ``regviz.views``. ``from regviz import plots; plots.plot_curves(...)`` keeps working.
"""
from ..artists import panel_axes, set_margins
from .calibration import plot_confidence_hist, plot_gallery, plot_projection, plot_reliability
from .curves import plot_curves, plot_lm_baselines, plot_lr_sensitivity, plot_seed_curves, plot_series, plot_sweep
from .seeds import plot_histograms, plot_lambda_errorbars, plot_seed_bars, plot_seed_sweep, plot_vs_size

__all__ = ["panel_axes", "set_margins",
           "plot_confidence_hist", "plot_gallery", "plot_projection", "plot_reliability",
           "plot_curves", "plot_lm_baselines", "plot_lr_sensitivity", "plot_seed_curves", "plot_series", "plot_sweep",
           "plot_histograms", "plot_lambda_errorbars", "plot_seed_bars", "plot_seed_sweep", "plot_vs_size"]
