"""Tests for regviz.EarlyStopping, fit(..., early_stopping=...) and the patience replay of chapter 06."""
import pytest
import torch

import regviz
from regviz import EarlyStopping
from regviz.experiments.early_stopping import noisy_fashion_runs, replay_early_stopping, restored_vs_last, seed_runs


@pytest.fixture(scope="module")
def noisy_data():
    # label noise makes validation loss rise after a few epochs, so early stopping triggers
    return regviz.load_dataset("mnist1d", n_train=400, n_val=300, label_noise=0.3, seed=0, device="cpu")


def _model(data, seed=0):
    torch.manual_seed(seed)
    return regviz.MLP(data.in_features, data.num_classes, width=64, depth=2)


class TestEarlyStoppingStep:
    """The decision method on hand-made loss sequences."""

    def test_stops_after_patience_bad_epochs(self):
        """Best at epoch 2; with patience 3 it stops at epoch 5 and names the best epoch."""
        es = EarlyStopping(patience=3)
        decisions = [es.step(e, v) for e, v in enumerate([1.0, 0.5, 0.6, 0.7, 0.8], start=1)]
        stops = [e for e, (s, _) in enumerate(decisions, start=1) if s]
        assert stops[0] == 5 and es.best_epoch == 2 and "best epoch 2" in decisions[4][1]

    def test_min_delta(self):
        """An improvement smaller than min_delta does not reset the counter."""
        es = EarlyStopping(patience=2, min_delta=0.1)
        out = [es.step(e, v)[0] for e, v in enumerate([1.0, 0.95, 0.93], start=1)]
        assert out == [False, False, True] and es.best_epoch == 1

    def test_nan_stops(self):
        """A non-finite loss stops at once with a 'diverged' reason."""
        stop, why = EarlyStopping(patience=10).step(1, float("nan"))
        assert stop and why.startswith("diverged")

    @pytest.mark.parametrize("kw", [dict(patience=0), dict(patience=2.5), dict(min_delta=-1.0)])
    def test_bad_args(self, kw):
        """Bad patience / min_delta raise ValueError."""
        with pytest.raises(ValueError):
            EarlyStopping(**kw)


class TestFitRestoresBest:
    """fit(..., early_stopping=EarlyStopping(restore_best=True)) reloads the best epoch's weights."""

    def test_restored_val_loss_equals_best_epoch(self, noisy_data):
        """After stopping, evaluating the model gives the best epoch's recorded validation loss."""
        model = _model(noisy_data)
        es = EarlyStopping(patience=3)
        h = regviz.fit(model, noisy_data, epochs=60, lr=3e-3, batch_size=50, early_stopping=es, progress=False,
                       device="cpu")
        assert h.stop_reason.startswith("early stopping") and h.num_epochs < 60
        assert h.best_epoch < h.num_epochs  # the last epoch is worse, so restoring changes the weights
        val_loss, _ = regviz.evaluate(model, noisy_data.X_val, noisy_data.y_val)
        assert val_loss == pytest.approx(h.val_loss[h.best_epoch - 1], rel=1e-6)
        assert val_loss < h.val_loss[-1] - 1e-4

    def test_without_restore_keeps_last_weights(self, noisy_data):
        """restore_best=False leaves the last epoch's weights in place."""
        model = _model(noisy_data)
        h = regviz.fit(model, noisy_data, epochs=60, lr=3e-3, batch_size=50, progress=False, device="cpu",
                       early_stopping=EarlyStopping(patience=3, restore_best=False))
        val_loss, _ = regviz.evaluate(model, noisy_data.X_val, noisy_data.y_val)
        assert val_loss == pytest.approx(h.val_loss[-1], rel=1e-6)


class TestReplay:
    """replay_early_stopping agrees with an actual early-stopped fit."""

    def test_hand_made_curve(self):
        """Stop and best epochs on a known curve, and 'never triggers' returns the last epoch."""
        curve = [3.0, 2.0, 1.5, 1.6, 1.7, 1.4, 1.8, 1.9, 2.0]
        assert replay_early_stopping(curve, 2) == (5, 3)
        assert replay_early_stopping(curve, 3) == (9, 6)
        assert replay_early_stopping(curve, 10) == (9, 6)
        with pytest.raises(ValueError):
            replay_early_stopping([], 2)

    @pytest.mark.parametrize("patience", [2, 4])
    def test_matches_fit(self, noisy_data, patience):
        """Replaying a full-length run predicts the epoch at which fit with early stopping stops."""
        full = regviz.fit(_model(noisy_data), noisy_data, epochs=40, lr=3e-3, batch_size=50, progress=False,
                          device="cpu")
        stopped = regviz.fit(_model(noisy_data), noisy_data, epochs=40, lr=3e-3, batch_size=50, progress=False,
                             device="cpu", early_stopping=EarlyStopping(patience=patience))
        stop, best = replay_early_stopping(full.val_loss, patience)
        assert (stop, best) == (stopped.num_epochs, stopped.best_epoch)
        assert stopped.val_loss == full.val_loss[:stop]


class TestRestoredVsLast:
    """restored_vs_last reads off the weights EarlyStopping(restore_best=True) would keep, from a stored curve."""

    def test_matches_a_restored_fit(self, noisy_data):
        """Its best epoch and accuracy are those of the model an early-stopped fit restores."""
        full = regviz.fit(_model(noisy_data), noisy_data, epochs=40, lr=3e-3, batch_size=50, progress=False,
                          device="cpu")
        model = _model(noisy_data)
        regviz.fit(model, noisy_data, epochs=40, lr=3e-3, batch_size=50, progress=False, device="cpu",
                   early_stopping=EarlyStopping(patience=3))
        r = restored_vs_last(full, patience=3)
        _, acc = regviz.evaluate(model, noisy_data.X_val, noisy_data.y_val)
        assert r.best < r.stop <= 40
        assert acc == pytest.approx(r.best_acc, abs=1e-9)
        assert r.last_acc == full.val_acc[-1] and r.best_loss == min(full.val_loss[:r.stop])


class TestNoisyFashionRuns:
    """noisy_fashion_runs: one stacked run per seed, each replayed."""

    def test_tiny(self):
        """Seeds differ, each entry replays its own curve, and label noise reaches the training labels."""
        out = noisy_fashion_runs(seeds=(0, 1), n_train=120, n_val=100, epochs=4, width=16, patience=2, device="cpu")
        h0, h1 = out.histories
        assert h0.config["seed"] == 0 and h1.config["seed"] == 1 and h0.val_loss != h1.val_loss
        assert h0.config["label_noise"] == 0.4
        for h, r in zip(out.histories, out.stops):
            assert (r.stop, r.best) == replay_early_stopping(h.val_loss, 2)
            assert r.best_acc == h.val_acc[r.best - 1]


class TestSeedRuns:
    """seed_runs trains each setting once per seed."""

    def test_cosine_vs_constant(self, noisy_data):
        """One History per seed; the cosine run's LR ends near zero, the constant one's stays put."""
        S = torch.optim.lr_scheduler
        out = seed_runs(lambda: regviz.MLP(noisy_data.in_features, 10, width=16), noisy_data,
                            {"constant": {}, "cosine": {"scheduler": lambda o: S.CosineAnnealingLR(o, T_max=4)}},
                            seeds=(0, 1), device="cpu", epochs=5, lr=1e-2, batch_size=100)
        assert [len(v) for v in out.values()] == [2, 2]
        assert out["constant"][0].lr[-1] == 1e-2 and out["cosine"][0].lr[-1] < 1e-3
        assert out["constant"][0].val_loss != out["constant"][1].val_loss
