"""Chapter 04's panel picture: NLL and ECE per epoch, a reliability diagram, confidences."""
from __future__ import annotations

from ..artists import Histogram, Reliability, panel_axes, relabel, rescale
from ..metrics import expected_calibration_error, reliability_data
from .base import PanelView


class CalibrationView(PanelView):
    """Chapter 04: NLL and ECE per epoch | reliability diagram at the chosen epoch | confidence histogram.

    The result is a ``SmoothingRun``: History, per-epoch validation ``logits`` (E, N, K), labels ``y`` and, for the
    ``probabilities="temperature"`` setting, ``temperature`` {epoch: ``calibration.temperature_held_out`` result}.
    """

    def __init__(self, n_bins: int = 15):
        self.n_bins = n_bins

    def setup(self, fig):
        ax1, self.ax2, self.ax3 = panel_axes(fig, 3, left=0.05, wspace=0.38)
        self.ax1, self.ax1b = ax1, ax1.twinx()
        self.nll, = ax1.plot([], [], "C0-", label="val NLL")
        self.train, = ax1.plot([], [], "C0--", label="train NLL")
        self.ece, = self.ax1b.plot([], [], "C3-", label="val ECE")
        self.ax1b.set_ylabel("ECE", color="C3")
        self.now = ax1.axvline(1, color="k", lw=0.8, ls=":")
        ax1.set_xlabel("epoch"); ax1.set_ylabel("loss"); ax1.set_title("loss and calibration per epoch", fontsize=10)
        self.legend1 = ax1.legend(fontsize=7, loc="upper left")
        self.ax1b.legend(fontsize=7, loc="upper right")
        self.reliability = Reliability(self.ax2, self.n_bins)
        self.conf = Histogram(self.ax3, label="top-1 confidence")
        self.acc_line = self.ax3.axvline(0, color="k", ls="--", lw=1, label="accuracy")
        self.ax3.set_xlabel("top-1 confidence"); self.ax3.set_ylabel("examples")
        self.ax3.set_title("confidence on validation")
        self.legend3 = self.ax3.legend([self.conf.bars, self.acc_line], ["top-1 confidence", "accuracy"], fontsize=8)
        self.title = fig.suptitle("", fontsize=10)

    def update(self, result, settings):
        hist, y = result.history, result.y
        epoch = min(settings.get("epochs", hist.num_epochs), hist.num_epochs)
        logits = result.logits[epoch - 1]  # (N, K)
        ep = hist.epochs
        self.nll.set_data(ep, hist.extra["val_nll"])
        self.train.set_data(ep, hist.train_loss)
        # fit reports plain cross-entropy: smoothing is in the training objective only
        relabel(self.legend1, ["val NLL", f"train NLL (trained with label_smoothing={settings['label_smoothing']:g})"])
        self.ece.set_data(ep, hist.extra["val_ece"])
        self.ax1b.set_ylim(0, max(0.5, max(hist.extra["val_ece"]) * 1.05))
        self.now.set_xdata([epoch, epoch])
        rescale(self.ax1)
        if settings.get("probabilities") == "temperature":
            cal = result.temperature[epoch]  # T fitted on one half of validation, judged on the other
            probs, yy, what = cal["after"], cal["y"], f"temperature T={cal['T']:.2f} (held-out half)"
        else:
            probs, yy, what = logits.softmax(-1), y, "raw softmax"
        ece = expected_calibration_error(probs, yy, n_bins=self.n_bins)
        self.reliability.set(reliability_data(probs, yy, n_bins=self.n_bins), ece=ece)
        self.ax2.set_title(what)
        top = probs.max(-1).values
        self.conf.set(top)
        acc = float((probs.argmax(-1) == yy).float().mean())
        self.acc_line.set_xdata([acc, acc])
        relabel(self.legend3, [f"top-1 confidence (mean {float(top.mean()):.2f})", f"accuracy {acc:.2f}"])
        self.title.set_text(f"epoch {epoch}: val acc {acc:.3f}, ECE {ece:.3f}, mean confidence "
                            f"{float(top.mean()):.3f}")
