import matplotlib
import pytest

from regviz.history import History
from regviz.plots import plot_curves, plot_lm_baselines, plot_lr_sensitivity, plot_series, plot_sweep

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


class TestRescale:
    """A view updated with a single point still gets a drawable (non-empty) range."""

    @pytest.mark.parametrize("scale", ["linear", "log"])
    def test_single_point(self, scale):
        from matplotlib.figure import Figure
        from regviz.artists import rescale
        ax = Figure().subplots()
        line, = ax.plot([], [], "o")
        now = ax.axvline(1.0, color="k")  # the "current setting" marker a panel view moves
        ax.set_xscale(scale)
        line.set_data([1e-3], [0.5])
        now.set_xdata([1e-3, 1e-3])
        rescale(ax)
        lo, hi = ax.get_xlim()
        assert lo < 1e-3 < hi and hi - lo > 1e-4


class TestSeedSweep:
    """Chapter 03: plot_seed_sweep draws the per-knob means with ±2 SE bars and a baseline band."""

    def test_means_and_error_bars(self):
        from regviz.plots import plot_seed_sweep
        from regviz.stats import summarize
        runs = {0.0: [0.80, 0.82, 0.81], 0.5: [0.85, 0.86, 0.84]}
        ax = plot_seed_sweep(runs, knob="p", ylabel="acc", baseline=[0.7, 0.72, 0.71])
        line = ax.lines[0]
        assert list(line.get_ydata()) == pytest.approx([0.81, 0.85])
        bar = ax.containers[0].lines[2][0].get_segments()[1]  # the p=0.5 error bar, (x, y) ends
        assert bar[1, 1] - bar[0, 1] == pytest.approx(4 * summarize(runs[0.5]).se)
        assert any("0.710" in t.get_text() for t in ax.get_legend().get_texts())

    def test_empty(self):
        from regviz.plots import plot_seed_sweep
        with pytest.raises(ValueError):
            plot_seed_sweep({}, knob="p", ylabel="acc")


class TestLambdaErrorbars:
    """Chapter 02: plot_lambda_errorbars draws mean ± 2 SE against lambda on a symlog axis."""

    def test_draws_means_and_symlog(self):
        from regviz.plots import plot_lambda_errorbars
        ax = plot_lambda_errorbars([0.0, 0.1, 1.0], [[0.5, 0.7], [0.8, 0.8], [0.2, 0.4]])
        assert ax.get_xscale() == "symlog"
        line = ax.get_lines()[0]
        assert list(line.get_ydata()) == pytest.approx([0.6, 0.8, 0.3])

    def test_mismatch(self):
        from regviz.plots import plot_lambda_errorbars
        with pytest.raises(ValueError):
            plot_lambda_errorbars([0.0, 1.0], [[0.5]])


class TestSeedCurves:
    """Chapter 06: plot_seed_curves draws the mean validation curve over seeds, a ±2 SE band and the marks."""

    def test_mean_and_marks(self):
        from regviz.plots import plot_seed_curves
        ax = plot_seed_curves({"run": [_h(1.0), _h(2.0)]}, metric="loss", marks={"run": [2, 3]})
        val = ax.lines[1]
        assert list(val.get_ydata()) == pytest.approx([1.65, 1.2, 1.35])
        assert [tuple(l.get_ydata()) for l in ax.lines[2:]] == [(0.8,), (1.8,)]
        assert "restored epoch (each seed)" in [t.get_text() for t in ax.get_legend().get_texts()]
        assert ax.get_yscale() == "log"

    def test_empty(self):
        from regviz.plots import plot_seed_curves
        with pytest.raises(ValueError):
            plot_seed_curves({"run": []})


class TestHistograms:
    """Chapter 03: plot_histograms draws one histogram per sample and one line per mark."""

    def test_counts_and_marks(self):
        from regviz.plots import plot_histograms
        ax = plot_histograms({"a": [0.1, 0.2, 0.2], "b": [0.9]}, xlabel="x", bins=4, marks={"m": 0.5})
        heights = [p.get_height() for p in ax.patches]
        assert sum(heights) == 4 and len(heights) == 8
        assert [l.get_xdata()[0] for l in ax.lines] == [0.5]

    def test_empty(self):
        from regviz.plots import plot_histograms
        with pytest.raises(ValueError):
            plot_histograms({}, xlabel="x")


class TestChapter05Plots:
    """Chapter 05: accuracy vs n_train with 2-SE error bars, and per-seed bars."""

    def test_vs_size_means_and_error_bars(self):
        from regviz.plots import plot_vs_size
        ax = plot_vs_size({"none": {100: [0.5, 0.7], 1000: [0.8, 0.8]}, "aug": {100: [0.6, 0.6], 1000: [0.9, 0.9]}})
        ys = [list(line.get_ydata()) for line in ax.get_lines()]
        assert [0.6, 0.8] in ys and [0.6, 0.9] in ys  # means per n
        caps = [c for c in ax.collections]  # error-bar segments: ±2 SE = ±0.2 for [0.5, 0.7]
        segs = caps[0].get_segments()
        assert abs((segs[0][1][1] - segs[0][0][1]) - 0.4) < 1e-9

    def test_seed_bars(self):
        from regviz.plots import plot_seed_bars
        ax = plot_seed_bars({"plain": [0.1, 0.3], "mixup": [0.05, 0.05]}, ylabel="ECE")
        assert [round(p.get_height(), 9) for p in ax.patches] == [0.2, 0.05]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["plain", "mixup"]
