"""Chapter 07's panel picture: the LM's loss curves against z-loss 0, and the mean log Z per epoch."""
from __future__ import annotations

from ..artists import panel_axes, relabel, rescale
from .base import PanelView


class LMView(PanelView):
    """Chapter 07: train/val loss of this setting and of z-loss 0 at the same p | mean validation log Z.

    The result is an ``LMRun``: ``history`` (this setting) and ``reference`` (z-loss 0, same p); ``extra["log_z"]`` per epoch.
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
        h, ref = result.history, result.reference
        names = ("z-loss 0", f"z-loss {settings['z_loss']:g}")
        for (train, val, log_z), hh in zip(self.lines, (ref, h)):
            train.set_data(hh.epochs, hh.train_loss)
            val.set_data(hh.epochs, hh.val_loss)
            log_z.set_data(hh.epochs, hh.extra["log_z"])
        relabel(self.legend, [f"{n}: {part}" for n in names for part in ("train", "validation")])
        relabel(self.legend2, names)
        rescale(self.ax)
        rescale(self.ax2)
        self.ax.set_title(f"p={settings['p']:g}: val loss best {min(h.val_loss):.3f}, final {h.val_loss[-1]:.3f}",
                          fontsize=9)
        self.ax2.set_title(f"final log Z: {h.extra['log_z'][-1]:.2f} (z-loss 0: {ref.extra['log_z'][-1]:.2f})",
                           fontsize=9)
