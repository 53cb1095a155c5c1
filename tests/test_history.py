import json
import math

from regviz.history import History


def _h():
    return History(train_loss=[1.0, 0.5, 0.2, 0.1], val_loss=[1.1, 0.7, 0.6, 0.8],
                   train_acc=[0.5, 0.8, 0.9, 1.0], val_acc=[0.4, 0.7, 0.75, 0.7], lr=[0.1] * 4,
                   config={"lr": 0.1}, extra={"log_z": [1, 2, 3, 4]})


class TestHistory:
    """Per-epoch bookkeeping."""

    def test_gaps_and_best(self):
        """Gaps are val-train (loss) and train-val (acc); best epoch is 1-based argmin of val loss."""
        h = _h()
        h.update_best()
        assert h.best_epoch == 3
        assert [round(g, 6) for g in h.loss_gap] == [0.1, 0.2, 0.4, 0.7]
        assert math.isclose(h.acc_gap[-1], 0.3)
        assert h.final()["val_loss"] == 0.8

    def test_truncated(self):
        """Truncation keeps the first n epochs and recomputes the best epoch."""
        t = _h().truncated(2)
        assert t.val_loss == [1.1, 0.7] and t.best_epoch == 2 and t.extra["log_z"] == [1, 2]

    def test_diverged(self):
        """A NaN anywhere marks the run as diverged; best epoch ignores it."""
        h = History(train_loss=[1.0, float("nan")], val_loss=[1.0, float("nan")], train_acc=[0, 0], val_acc=[0, 0])
        h.update_best()
        assert h.diverged and h.best_epoch == 1

    def test_json_round_trip(self, tmp_path):
        """to_dict -> JSON -> from_dict (how the experiments store runs) gives back an equal History."""
        h = _h()
        (tmp_path / "h.json").write_text(json.dumps(h.to_dict()))
        assert History.from_dict(json.loads((tmp_path / "h.json").read_text())) == h
