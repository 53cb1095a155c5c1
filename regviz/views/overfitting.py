"""Chapter 01's panel picture: loss and accuracy curves, the gap shaded, the diagnosis in the title."""
from __future__ import annotations

from ..artists import METRICS, Curves, finish, loss_curves, panel_axes, rescale
from ..metrics import diagnose
from .base import PanelView


class CurvesView(PanelView):
    """Chapter 01: loss and accuracy curves up to the ``epochs`` slider, gap shaded, diagnosis in the title."""

    def setup(self, fig):
        ax1, self.ax2 = panel_axes(fig, 2, wspace=0.25)
        self.loss, self.acc = loss_curves(ax1, "loss (log scale)"), Curves(self.ax2, "acc")
        finish(self.ax2, xlabel="epoch", ylabel=METRICS["acc"][2], title="accuracy")
        self.ax2.set_ylim(0, 1.02)
        self.title = fig.suptitle("", fontsize=10)

    def update(self, hist, settings):
        h = hist.truncated(settings.get("epochs", hist.num_epochs))
        self.loss.set(h)
        self.acc.set(h)
        rescale(self.loss.ax)
        rescale(self.ax2, y=False)
        f = h.final()
        self.title.set_text(f"epoch {h.num_epochs}: gap (val - train loss) = {f['loss_gap']:.3f}, "
                            f"val acc = {f['val_acc']:.3f} -> {diagnose(h)}")
