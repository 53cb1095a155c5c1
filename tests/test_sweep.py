import pytest
import torch
import torch.nn.functional as F

from regviz import MLP, fit, sweep


def _mk(p=0.0):
    return lambda: MLP(64, 10, width=32, p=p)


def _seq(make, data, epochs, **kw):
    seed = kw.pop("seed", 0)
    torch.manual_seed(seed)
    return fit(make(), data, epochs=epochs, seed=seed, progress=False, device="cpu", **kw)


class TestSweepMatchesFit:
    """For p = 0, a batched sweep reproduces sequential fits with the same seeds."""

    @pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd"])
    def test_weight_decay(self, digits, optimizer):
        vals = [0.0, 0.1, 1.0]
        lr = 0.05 if optimizer == "sgd" else 1e-3
        hs = sweep(_mk(), digits, knob="weight_decay", values=vals, epochs=3, lr=lr, optimizer=optimizer,
                   progress=False, device="cpu")
        for v, h in zip(vals, hs):
            ref = _seq(_mk(), digits, 3, lr=lr, weight_decay=v, optimizer=optimizer)
            assert h.val_loss == pytest.approx(ref.val_loss, rel=1e-4)
            assert h.train_acc == pytest.approx(ref.train_acc, abs=1e-9)

    def test_lr_and_seed(self, digits):
        hs = sweep(_mk(), digits, knob="lr", values=[1e-3, 1e-2], epochs=2, progress=False, device="cpu")
        assert hs[1].val_loss == pytest.approx(_seq(_mk(), digits, 2, lr=1e-2).val_loss, rel=1e-4)
        hs = sweep(_mk(), digits, knob="seed", values=[3, 4], epochs=2, progress=False, device="cpu")
        assert hs[1].val_loss == pytest.approx(_seq(_mk(), digits, 2, seed=4).val_loss, rel=1e-4)

    def test_eps_equals_torch_label_smoothing(self, digits):
        """knob='eps' trains with the same loss as nn.CrossEntropyLoss(label_smoothing=eps)."""
        hs = sweep(_mk(), digits, knob="eps", values=[0.0, 0.2], epochs=2, progress=False, device="cpu")
        ref = _seq(_mk(), digits, 2, loss_fn=lambda z, y: F.cross_entropy(z, y, label_smoothing=0.2))
        assert hs[1].val_loss == pytest.approx(ref.val_loss, rel=1e-4)

    def test_l1_equals_penalty(self, digits):
        """knob='l1' adds l1 * sum|W| over weight matrices, as fit's penalty= does."""
        from regviz.penalties import l1_penalty
        hs = sweep(_mk(), digits, knob="l1", values=[0.0, 1e-3], epochs=2, progress=False, device="cpu")
        ref = _seq(_mk(), digits, 2, penalty=lambda m: 1e-3 * l1_penalty(m))
        assert hs[1].val_loss == pytest.approx(ref.val_loss, rel=1e-4)


class TestSweepDropout:
    """Dropout knob: the same model, only p differs; statistically like fit."""

    def test_p_changes_training_not_init(self, digits):
        """p=0 in a p-sweep equals fit; p>0 regularises (train loss ends higher than p=0)."""
        hs = sweep(_mk(), digits, knob="p", values=[0.0, 0.5], epochs=6, lr=3e-3, progress=False, device="cpu")
        ref = _seq(_mk(0.0), digits, 6, lr=3e-3)
        assert hs[0].val_loss == pytest.approx(ref.val_loss, rel=1e-4)
        assert hs[1].train_loss[-1] > hs[0].train_loss[-1]

    def test_p_statistically_like_fit(self, digits):
        """Final val loss for p=0.5 is within the seed-to-seed spread of sequential fits."""
        hs = sweep(_mk(), digits, knob="p", values=[0.5], epochs=4, lr=3e-3, progress=False, device="cpu")
        refs = [_seq(_mk(0.5), digits, 4, lr=3e-3, seed=s).val_loss[-1] for s in range(4)]
        spread = max(refs) - min(refs)
        mean = sum(refs) / len(refs)
        assert abs(hs[0].val_loss[-1] - mean) < max(3 * spread, 0.05)

    def test_p_needs_regviz_dropout(self, digits):
        with pytest.raises(ValueError, match="Dropout"):
            sweep(lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)), digits,
                  knob="p", values=[0.1], epochs=1, progress=False, device="cpu")


class TestSweepArgs:
    """Bad knobs and values are ValueErrors."""

    @pytest.mark.parametrize("kwargs,match", [
        (dict(knob="width", values=[1]), "allowed: weight_decay"),
        (dict(knob="p", values=[1.0]), r"\[0, 1\)"),
        (dict(knob="lr", values=[-1.0]), "lr"),
        (dict(knob="lr", values=[]), "empty"),
    ])
    def test_errors(self, digits, kwargs, match):
        with pytest.raises(ValueError, match=match):
            sweep(_mk(), digits, epochs=1, progress=False, device="cpu", **kwargs)

    @pytest.mark.parametrize("make,match", [
        (lambda: MLP(32, 10, width=8), r"MLP expects 32 input features but the dataset has 64: build `MLP\(in_features"),
        (lambda: MLP(64, 3, width=8), r"MLP outputs 3 classes but the dataset has 10 .*num_classes=data\.num_classes"),
    ])
    def test_model_data_mismatch(self, digits, make, match):
        """The first model is checked against the data before K copies are stacked and trained."""
        calls = []

        def counted():
            calls.append(1)
            return make()
        with pytest.raises(ValueError, match=match):
            sweep(counted, digits, knob="weight_decay", values=[0.0, 0.1, 1.0], epochs=1, progress=False,
                  device="cpu")
        assert len(calls) == 1

    def test_divergence_marked_per_model(self, digits):
        """A too-large lr diverges in its own History without spoiling the others."""
        hs = sweep(_mk(), digits, knob="lr", values=[1e-3, 1e6], optimizer="sgd", epochs=3,
                   progress=False, device="cpu")
        assert not hs[0].diverged and hs[1].diverged and hs[1].stop_reason.startswith("diverged")
