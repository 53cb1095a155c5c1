"""Chapter 02's panel picture: loss curves, the weights' histogram and loss against each penalty's strength."""
from __future__ import annotations

from typing import Mapping

import torch

from ..artists import log_scale, loss_curves, panel_axes, rescale
from .base import PanelView


class PenaltyView(PanelView):
    """Chapter 02: loss curves | histogram of the weights at the shown epoch | loss against the strength.

    The right panel draws validation loss against ``weight_decay`` for the runs with ``l1 = 0`` (L2 alone) and
    against ``l1`` for those with ``weight_decay = 0`` (L1 alone), from every run trained so far; a run with both
    (elastic net) is drawn on the left and in the middle only.

    Args:
        runs: ``{(weight_decay, l1): PenaltyRun}``, every run trained so far (read at each update).
        zero_at: where a strength of 0 is drawn on the log axis.
        small: "near zero" for the histogram's title.
    """

    def __init__(self, runs: Mapping[tuple[float, float], object], *, zero_at: float, small: float = 1e-3,
                 weight_range: float = 0.4, bins: int = 80):
        self.runs, self.zero_at, self.small = runs, zero_at, small
        self.edges = torch.linspace(-weight_range, weight_range, bins + 1)

    def setup(self, fig):
        self.ax1, self.ax2, self.ax3 = ax1, ax2, ax3 = panel_axes(fig, 3, top=0.9, wspace=0.32, right=0.99,
                                                                  bottom=0.15)
        self.curves = loss_curves(ax1)
        n = len(self.edges) - 1
        self.stairs = ax2.stairs([1.0] * n, self.edges.numpy(), fill=True, color="C2", baseline=0.5)
        log_scale(ax2)
        ax2.set_ylabel("count (log)")
        ax2.set_xlabel("weight value")
        self.lines = {k: (ax3.plot([], [], "o-", color=c, label=f"{k}: validation")[0],
                          ax3.plot([], [], "o--", color=c, alpha=0.6, label=f"{k}: train")[0])
                      for k, c in (("weight_decay", "C0"), ("l1", "C3"))}
        self.now = ax3.axvline(self.zero_at, color="k", lw=0.8)
        log_scale(ax3, "x")
        log_scale(ax3)
        ax3.set_xlabel("strength (leftmost point: 0)")
        ax3.legend(fontsize=8)
        ax3.grid(alpha=0.3)

    def update(self, res, settings):
        ep, wd, l1 = settings["epochs"], settings["weight_decay"], settings["l1"]
        h = res.history.truncated(ep)
        if h.diverged:
            raise ValueError(f"this run diverged: {h.stop_reason}")
        self.curves.set(h)
        rescale(self.ax1)
        self.ax1.set_title(f"loss, weight_decay={wd:g}, l1={l1:g}")
        w = res.weights[ep]
        lo, hi = float(self.edges[0]), float(self.edges[-1])
        counts = torch.histc(w, bins=len(self.edges) - 1, min=lo, max=hi).clamp(min=0.5)  # 0.5: empty bins on a log axis
        self.stairs.set_data(counts.numpy())
        rescale(self.ax2)
        small = (w.abs() < self.small).float().mean().item()
        self.ax2.set_title(f"weights at epoch {ep}: {small:.1%} with |w| < {self.small:g}", fontsize=9)
        for axis, (val, train) in enumerate(self.lines.values()):  # keys (weight_decay, l1): each with the other 0
            pts = sorted((key[axis], r.history.truncated(ep)) for key, r in self.runs.items() if key[1 - axis] == 0)
            xs = [x if x > 0 else self.zero_at for x, _ in pts]
            val.set_data(xs, [hh.val_loss[-1] for _, hh in pts])
            train.set_data(xs, [hh.train_loss[-1] for _, hh in pts])
        cur = (l1 if wd == 0 else wd) or self.zero_at
        self.now.set_xdata([cur, cur])
        self.now.set_visible(wd == 0 or l1 == 0)  # both on: elastic net, on neither line
        rescale(self.ax3)
        self.ax3.set_title(f"loss at epoch {ep} vs strength (trained so far)", fontsize=9)
