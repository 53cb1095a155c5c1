import matplotlib
import pytest
import torch

from regviz import MLP
from regviz.history import History
from regviz.plots import plot_curves, plot_decision_boundary, plot_sweep

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

    def test_decision_boundary(self):
        X = torch.randn(20, 2)
        y = (X[:, 0] > 0).long()
        ax = plot_decision_boundary(MLP(2, 2, width=4), X, y, resolution=20)
        assert len(ax.collections) >= 2
        with pytest.raises(ValueError, match="2-D"):
            plot_decision_boundary(MLP(3, 2), torch.randn(5, 3), y[:5])
