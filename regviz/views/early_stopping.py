"""Chapter 06's panel picture: where early stopping stops and what it restores, for every patience."""
from __future__ import annotations

from ..artists import log_scale, panel_axes, relabel, rescale
from .base import PanelView


class StoppingView(PanelView):
    """Chapter 06: loss curves with the stop epoch and the restored (best) epoch marked | stop epoch vs patience.

    The result is a ``StoppingRun``: ``history`` and ``stops`` {(patience, min_delta): (stop_epoch, best_epoch)} replayed on it.
    """

    def setup(self, fig):
        self.ax, self.ax2 = ax, ax2 = panel_axes(fig, 2, width_ratios=[2, 1], top=0.9, wspace=0.2)
        self.train, = ax.plot([], [], "--", color="C0", label="train")
        self.val, = ax.plot([], [], "-", color="C1", label="validation")
        self.saved = ax.axvspan(1, 2, color="grey", alpha=0.15, label="epochs saved")
        self.stop = ax.axvline(1, color="k", lw=1, label="stop")
        self.best, = ax.plot([], [], "o", color="C3", ms=8, label="restored")
        ax.set_xlabel("epoch"); ax.set_ylabel("cross-entropy loss"); log_scale(ax)
        self.legend = ax.legend(fontsize=7); ax.grid(alpha=0.3)
        self.stops, = ax2.plot([], [], "o-", color="k")
        self.now, = ax2.plot([], [], "o", color="C3", ms=9)
        self.best_run = ax2.axhline(1, color="C3", ls=":", lw=1, label="best epoch of the run")
        ax2.set_xlabel("patience"); ax2.set_ylabel("stop epoch")
        self.legend2 = ax2.legend(fontsize=7); ax2.grid(alpha=0.3)

    def update(self, result, settings):
        hist, stops = result.history, result.stops
        patience, min_delta = settings["patience"], settings["min_delta"]
        stop, best = stops[(patience, min_delta)]
        ep = hist.epochs
        self.train.set_data(ep, hist.train_loss)
        self.val.set_data(ep, hist.val_loss)
        self.saved.set_x(stop)
        self.saved.set_width(len(ep) + 0.5 - stop)
        self.stop.set_xdata([stop, stop])
        self.best.set_data([best], [hist.val_loss[best - 1]])
        relabel(self.legend, ["train", "validation", "epochs saved", f"stop (epoch {stop})",
                               f"restored: epoch {best}, val {hist.val_loss[best - 1]:.3f}"])
        rescale(self.ax)
        self.ax.set_title(f"patience={patience}, min_delta={min_delta:g}: restored val acc "
                          f"{hist.val_acc[best - 1]:.3f} (final {hist.val_acc[-1]:.3f})", fontsize=9)
        patiences = sorted(p for p, d in stops if d == min_delta)
        self.stops.set_data(patiences, [stops[(p, min_delta)][0] for p in patiences])
        self.now.set_data([patience], [stop])
        self.best_run.set_ydata([hist.best_epoch, hist.best_epoch])
        relabel(self.legend2, [f"best epoch of the run ({hist.best_epoch})"])
        rescale(self.ax2)
