import matplotlib
import pytest
import torch

from regviz import MLP
from regviz.history import History
from regviz.plots import (plot_curves, plot_decision_boundary, plot_lm_baselines, plot_lr_sensitivity, plot_series,
                          plot_sweep)

matplotlib.use("agg")


def _h(k=1.0):
    return History(train_loss=[1.0 * k, 0.5 * k, 0.2 * k], val_loss=[1.1 * k, 0.8 * k, 0.9 * k],
                   train_acc=[0.5, 0.8, 0.9], val_acc=[0.4, 0.6, 0.55], best_epoch=2)


class TestPlots:
    """Plots draw what they are given and return their axes."""

    def test_curves_data(self):
        ax = plot_curves(_h())
        ys = [list(line.get_ydata()) for line in ax.get_lines()]
        assert [1.0, 0.5, 0.2] in ys and [1.1, 0.8, 0.9] in ys
        assert [0.8] in ys  # best-epoch marker at epoch 2's validation loss
        assert len(ax.collections) == 1  # the shaded gap

    def test_curves_overlay_and_upto(self):
        ax = plot_curves({"a": _h(), "b": _h(2)}, metric="acc", upto=2)
        assert all(len(line.get_xdata()) <= 2 for line in ax.get_lines())
        with pytest.raises(ValueError):
            plot_curves(_h(), metric="f1")

    def test_sweep(self):
        ax = plot_sweep([0.0, 0.1, 1.0], [_h(), _h(2), _h(3)], knob="weight_decay", logx=True)
        val = [line for line in ax.get_lines() if line.get_label() == "validation"][0]
        assert list(val.get_ydata()) == pytest.approx([0.9, 1.8, 2.7])
        with pytest.raises(ValueError):
            plot_sweep([1], [_h(), _h()], knob="x")

    def test_lm_baselines(self):
        """The LM curve starts at the init loss (epoch 0) and each baseline is a horizontal line at its value."""
        ax = plot_lm_baselines(_h(), {"bigram": 0.7, "trigram": 0.6}, init_loss=2.0)
        val = [line for line in ax.get_lines() if line.get_label() == "transformer: validation"][0]
        assert list(val.get_xdata()) == [0, 1, 2, 3] and list(val.get_ydata()) == [2.0, 1.1, 0.8, 0.9]
        flat = {line.get_label(): set(line.get_ydata()) for line in ax.get_lines() if "counts" in line.get_label()}
        assert flat == {"bigram counts: 0.70": {0.7}, "trigram counts: 0.60": {0.6}}

    def test_lr_sensitivity_marks_blow_ups_at_the_ceiling(self):
        """Losses above the ceiling (or NaN) are drawn at the ceiling with an x; the others as given, sorted by lr."""
        ax = plot_lr_sensitivity({"a": {1e-2: 2.0, 1e-3: 2.5, 1e-1: float("nan"), 1.0: 9.0}}, ceiling=4.0)
        line, crosses = ax.get_lines()
        assert list(line.get_xdata()) == [1e-3, 1e-2, 1e-1, 1.0] and list(line.get_ydata()) == [2.5, 2.0, 4.0, 4.0]
        assert list(crosses.get_xdata()) == [1e-1, 1.0] and ax.get_xscale() == "log"

    def test_series(self):
        """One line per series, epochs numbered from 1, optional log scale."""
        ax = plot_series({"a": [1.0, 10.0], "b": [2.0, 3.0, 4.0]}, ylabel="y", yscale="log")
        assert [list(line.get_xdata()) for line in ax.get_lines()] == [[1, 2], [1, 2, 3]] and ax.get_yscale() == "log"
        with pytest.raises(ValueError, match="yscale"):
            plot_series({"a": [1.0]}, ylabel="y", yscale="logit")

    def test_decision_boundary(self):
        X = torch.randn(20, 2)
        y = (X[:, 0] > 0).long()
        ax = plot_decision_boundary(MLP(2, 2, width=4), X, y, resolution=20)
        assert len(ax.collections) >= 2
        with pytest.raises(ValueError, match="2-D"):
            plot_decision_boundary(MLP(3, 2), torch.randn(5, 3), y[:5])


class TestRescale:
    """A view updated with a single point still gets a drawable (non-empty) range."""

    @pytest.mark.parametrize("scale", ["linear", "log"])
    def test_single_point(self, scale):
        from matplotlib.figure import Figure
        from regviz.plots import _rescale
        ax = Figure().subplots()
        line, = ax.plot([], [], "o")
        now = ax.axvline(1.0, color="k")  # the "current setting" marker a panel view moves
        ax.set_xscale(scale)
        line.set_data([1e-3], [0.5])
        now.set_xdata([1e-3, 1e-3])
        _rescale(ax)
        lo, hi = ax.get_xlim()
        assert lo < 1e-3 < hi and hi - lo > 1e-4
