"""Chapter 05's panel picture: the mixing weight's histogram, mixed previews, calibration."""
from __future__ import annotations

from ..artists import Histogram, Reliability, panel_axes, update_gallery
from ..metrics import reliability_data
from .base import PanelView


class MixingView(PanelView):
    """Chapter 05: lambda histogram | mixed previews | reliability diagram of the trained model.

    The result is a ``MixingRun``: History, final validation ``logits`` (N, K), labels ``y``, ``lambdas`` (draws of
    the mixing weight) and ``preview`` ``(X, captions)``.
    """

    def __init__(self, n_bins: int = 15, nrow: int = 4):
        self.n_bins, self.nrow = n_bins, nrow

    def setup(self, fig):
        self.ax1, self.ax2, ax3 = panel_axes(fig, 3, width_ratios=[1, 1.4, 1], left=0.05, bottom=0.15, top=0.85)
        self.lam = Histogram(self.ax1, colour="C2", alpha=1.0)
        self.ax1.set_xlabel("lambda (weight of the image's own label)"); self.ax1.set_ylabel("draws")
        self.reliability = Reliability(ax3, self.n_bins)
        ax3.set_title("validation calibration")
        self.title = fig.suptitle("", fontsize=10)

    def update(self, result, settings):
        method, alpha = settings["method"], settings["alpha"]
        self.lam.set(result.lambdas)
        self.ax1.set_title(f"lambda ~ Beta({alpha:g}, {alpha:g})" if alpha else "alpha = 0: no mixing", fontsize=10)
        X, caps = result.preview
        update_gallery(self.ax2, X, caps, nrow=self.nrow,
                        title=f"{method} previews (soft targets)" if alpha else "originals")
        probs, y, h = result.logits.softmax(-1), result.y, result.history
        self.reliability.set(reliability_data(probs, y, n_bins=self.n_bins), ece=h.extra["val_ece"][-1])
        self.title.set_text(f"{method if alpha else 'no mixing'}, alpha={alpha:g}: train acc {h.train_acc[-1]:.3f}, "
                            f"val acc {h.val_acc[-1]:.3f}, val NLL {h.extra['val_nll'][-1]:.3f}, "
                            f"mean confidence {h.extra['val_conf'][-1]:.3f}")
