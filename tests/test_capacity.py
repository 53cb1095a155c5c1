"""Tests for regviz.experiments.capacity: the random-features double-descent sweep and the MLP width sweep."""
import pytest
import torch
import torch.nn.functional as F

from regviz.data import Dataset
from regviz.device import seeded
from regviz.experiments.capacity import _min_norm_lstsq, random_features_sweep, width_sweep
from regviz.models import MLP
from regviz.train import fit

N_TRAIN = 24


def _data(n_train: int = N_TRAIN, n_val: int = 40, d: int = 6, k: int = 3, seed: int = 0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n_train + n_val, d, generator=g)
    y = torch.randint(0, k, (n_train + n_val,), generator=g)
    return Dataset(name="toy", X_train=X[:n_train], y_train=y[:n_train], X_val=X[n_train:], y_val=y[n_train:],
                   num_classes=k, input_shape=(d,))


class TestMinNormLstsq:
    """The last layer is pinv(P) @ Y: least squares, and of smallest norm when many solutions fit."""

    @pytest.mark.parametrize("w", [5, N_TRAIN, 3 * N_TRAIN])
    def test_matches_pinv(self, w):
        g = torch.Generator().manual_seed(w)
        P = torch.randn(N_TRAIN, w, generator=g, dtype=torch.float64)
        Y = torch.randn(N_TRAIN, 3, generator=g, dtype=torch.float64)
        torch.testing.assert_close(_min_norm_lstsq(P, Y), torch.linalg.pinv(P) @ Y, rtol=1e-6, atol=1e-8)


class TestRandomFeaturesSweep:
    """Interpolation from width == n_train on, a reference re-computation, one value per width, bad input."""

    def test_interpolates_at_and_past_n_train(self):
        """Width >= n_train fits the training targets exactly; a narrow model cannot."""
        out = random_features_sweep(_data(), [4, N_TRAIN, 4 * N_TRAIN])
        assert out.train_mse[0] > 0.1 and out.train_err[0] > 0
        assert out.train_mse[1] < 1e-12 and out.train_err[1] == 0.0
        assert out.train_mse[2] < 1e-12 and out.train_err[2] == 0.0
        # the minimum-norm fit's weights peak at the interpolation threshold (the double-descent spike)
        assert out.weight_norm[1] > 3 * max(out.weight_norm[0], out.weight_norm[2])

    def test_matches_reference(self):
        """Same numbers as the documented model computed here with torch.linalg.pinv."""
        data, w, seed = _data(), 10, 3
        out = random_features_sweep(data, [w], seed=seed)
        g = torch.Generator().manual_seed(seed)
        Xtr, Xva = data.X_train.double(), data.X_val.double()
        mu, sd = Xtr.mean(0), Xtr.std(0)
        d = Xtr.shape[1]
        W = torch.randn(d, w, generator=g, dtype=torch.float64) / d ** 0.5
        b = torch.randn(w, generator=g, dtype=torch.float64) * 0.1
        Ptr, Pva = torch.relu((Xtr - mu) / sd @ W + b), torch.relu((Xva - mu) / sd @ W + b)
        Ytr = F.one_hot(data.y_train, 3).double()
        beta = torch.linalg.pinv(Ptr) @ Ytr
        val_mse = ((Pva @ beta - F.one_hot(data.y_val, 3).double()) ** 2).sum(1).mean()
        assert out.train_mse[0] == pytest.approx(float(((Ptr @ beta - Ytr) ** 2).sum(1).mean()), rel=1e-6)
        assert out.val_mse[0] == pytest.approx(float(val_mse), rel=1e-6)
        assert out.val_err[0] == pytest.approx(float(((Pva @ beta).argmax(1) != data.y_val).double().mean()))
        assert out.weight_norm[0] == pytest.approx(float(beta.norm()), rel=1e-6)

    def test_one_value_per_width(self):
        widths = [3, 7, 50]
        out = random_features_sweep(_data(), widths)
        assert out.width == widths
        assert all(len(v) == len(widths) for v in vars(out).values())

    def test_seeded_and_private(self):
        """Same seed, same numbers; another seed, other features; the caller's generator is not touched."""
        data = _data()
        before = torch.get_rng_state()
        a, b = random_features_sweep(data, [5, 9], seed=1), random_features_sweep(data, [5, 9], seed=1)
        assert torch.equal(torch.get_rng_state(), before)
        assert a == b and a.val_mse != random_features_sweep(data, [5, 9], seed=2).val_mse

    @pytest.mark.parametrize("widths", [[], [0], [4, 2.5], "12", 5])
    def test_bad_widths(self, widths):
        with pytest.raises(ValueError, match="width"):
            random_features_sweep(_data(), widths)


class TestWidthSweep:
    """One trained MLP per width, recorded in its History, reproducible, and private in its randomness."""

    KW = dict(depth=1, epochs=2, lr=1e-2, batch_size=8, device="cpu", progress=False)

    def test_one_history_per_width(self):
        """Each History is the run of an MLP of that width, built and trained under the sweep's seed."""
        data, widths = _data(), [2, 16]
        hists = width_sweep(data, widths, seed=4, **self.KW)
        assert [h.config["width"] for h in hists] == widths
        assert all(h.num_epochs == 2 for h in hists)
        for w, h in zip(widths, hists):
            with seeded(4):
                model = MLP(data.in_features, data.num_classes, width=w, depth=1)
                ref = fit(model, data, epochs=2, lr=1e-2, batch_size=8, seed=4, device="cpu", progress=False)
            assert h.train_loss == ref.train_loss and h.val_loss == ref.val_loss

    def test_seeded_and_caller_rng_untouched(self):
        """Same seed, same runs, whatever the caller's generator; the caller's generator state is unchanged."""
        data = _data()
        torch.manual_seed(123)
        before = torch.get_rng_state()
        a = width_sweep(data, [4], seed=0, **self.KW)
        assert torch.equal(torch.get_rng_state(), before)
        torch.manual_seed(456)
        b = width_sweep(data, [4], seed=0, **self.KW)
        c = width_sweep(data, [4], seed=1, **self.KW)
        assert a[0].val_loss == b[0].val_loss != c[0].val_loss

    @pytest.mark.parametrize("widths", [[], [0], [8, -1], [3.0]])
    def test_bad_widths(self, widths):
        with pytest.raises(ValueError, match="width"):
            width_sweep(_data(), widths, **self.KW)
