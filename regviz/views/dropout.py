"""Chapter 03's panel picture: one p's curves, every p's validation loss, final loss and gap against p."""
from __future__ import annotations

from typing import Any, Mapping

from ..artists import log_scale, loss_curves, panel_axes, rescale
from ..history import History
from .base import PanelView


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
        self.curves = loss_curves(ax1)
        log_scale(ax2)
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
        rescale(self.ax1)
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
        rescale(self.ax2)
        self.val.set_data(ps, [g.val_loss[-1] for g in hs])
        self.gap.set_data(ps, [g.loss_gap[-1] for g in hs])
        self.now.set_xdata([cur, cur])
        rescale(self.ax3)
        self.ax3.set_title(f"at epoch {ep}", fontsize=9)
