"""Tests for regviz.layers: inverted dropout, DropPath, DropConnect and MC dropout, against PyTorch."""
import pytest
import torch
from torch import nn
from torchvision.ops import stochastic_depth

from regviz.layers import (DropConnect, Dropout, DropPath, drop_path, dropout, enable_mc_dropout,
                           mc_dropout_predict)


class TestDropout:
    """Inverted dropout matches nn.Dropout in distribution and is the identity in eval mode."""

    @pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
    def test_same_distribution_as_nn_dropout(self, p):
        x = torch.ones(200_000)
        g = torch.Generator().manual_seed(0)
        ours = dropout(x, p, True, generator=g)
        torch.manual_seed(0)
        ref = nn.Dropout(p).train()(x)
        assert abs((ours == 0).float().mean() - p) < 0.01
        assert abs((ref == 0).float().mean() - (ours == 0).float().mean()) < 0.01
        assert set(ours.unique().tolist()) == set(ref.unique().tolist())  # {0, 1/(1-p)}
        assert abs(ours.mean().item() - 1.0) < 0.02

    def test_eval_is_identity(self):
        x = torch.randn(10, 10)
        assert dropout(x, 0.5, False) is x
        assert torch.equal(Dropout(0.5).eval()(x), nn.Dropout(0.5).eval()(x))

    def test_bad_p(self):
        with pytest.raises(ValueError, match="p="):
            dropout(torch.ones(3), 1.0)


class TestDropPath:
    """drop_path equals torchvision.ops.stochastic_depth(mode='row') and drops whole samples."""

    def test_matches_torchvision(self):
        x = torch.randn(64, 3, 5)
        torch.manual_seed(3)
        ours = drop_path(x, 0.3, True)
        torch.manual_seed(3)
        ref = stochastic_depth(x, 0.3, "row", training=True)
        torch.testing.assert_close(ours, ref)

    def test_whole_samples_and_rate(self):
        x = torch.ones(20_000, 4)
        out = drop_path(x, 0.25, True, generator=torch.Generator().manual_seed(0))
        rows_zero = (out == 0).all(1)
        assert torch.equal(rows_zero, (out == 0).any(1))  # a row is all kept or all dropped
        assert abs(rows_zero.float().mean().item() - 0.25) < 0.02
        assert torch.allclose(out[~rows_zero], torch.tensor(1 / 0.75))

    def test_module_eval_identity(self):
        x = torch.randn(8, 3)
        m = DropPath(0.5)
        assert torch.equal(m.eval()(x), x)
        assert torch.equal(drop_path(x, 0.0, True), x)


class TestDropConnect:
    """DropConnect is nn.Linear in eval mode and drops a fraction p of weights in training."""

    def test_eval_equals_linear(self):
        torch.manual_seed(0)
        dc = DropConnect(5, 4, p=0.5).eval()
        lin = nn.Linear(5, 4)
        lin.load_state_dict(dc.state_dict())
        x = torch.randn(7, 5)
        torch.testing.assert_close(dc(x), lin(x))

    def test_training_mean_matches_linear(self):
        torch.manual_seed(0)
        dc = DropConnect(5, 4, p=0.3)
        x = torch.randn(7, 5)
        outs = torch.stack([dc(x) for _ in range(4000)])
        torch.testing.assert_close(outs.mean(0), dc.eval()(x), atol=0.05, rtol=0)
        assert not torch.allclose(outs[0], outs[1])


class TestMCDropout:
    """MC dropout switches on dropout only: BatchNorm stays in eval mode and its statistics do not move."""

    def _net(self, p):
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(p), nn.Linear(16, 3))

    def test_only_dropout_enabled(self):
        net = self._net(0.5)
        on = enable_mc_dropout(net)
        assert on == [net[3]] and net[3].training and not net[1].training

    def test_batchnorm_untouched_and_modes_restored(self):
        net = self._net(0.5).train()
        stats = net[1].running_mean.clone()
        mean, std = mc_dropout_predict(net, torch.randn(10, 4) + 3, num_samples=20)
        assert torch.equal(net[1].running_mean, stats)
        assert net.training and net[1].training
        assert mean.shape == (10, 3) and (std > 0).any()
        torch.testing.assert_close(mean.sum(1), torch.ones(10))

    def test_p_zero_equals_eval(self):
        net = self._net(0.0)
        X = torch.randn(10, 4)
        mean, std = mc_dropout_predict(net, X, num_samples=5)
        torch.testing.assert_close(mean, net.eval()(X).softmax(-1))
        assert torch.all(std == 0)

    def test_seeded_without_touching_caller_rng(self):
        """Same seed, same passes; another seed, other masks; the caller's generator state is unchanged."""
        net, X = self._net(0.5), torch.randn(10, 4)
        before = torch.get_rng_state()
        mean, std = mc_dropout_predict(net, X, num_samples=8, seed=1)
        assert torch.equal(torch.get_rng_state(), before)
        again = mc_dropout_predict(net, X, num_samples=8, seed=1)
        assert torch.equal(mean, again[0]) and torch.equal(std, again[1])
        assert not torch.equal(mean, mc_dropout_predict(net, X, num_samples=8, seed=2)[0])

    def test_seed_none_draws_from_caller_rng(self):
        """seed=None uses (and advances) the caller's generator, so the caller's own seed reproduces it."""
        net, X = self._net(0.5), torch.randn(10, 4)
        torch.manual_seed(5)
        fresh = torch.get_rng_state()
        a = mc_dropout_predict(net, X, num_samples=4, seed=None)[0]
        assert not torch.equal(torch.get_rng_state(), fresh)
        torch.manual_seed(5)
        b = mc_dropout_predict(net, X, num_samples=4, seed=None)[0]
        assert torch.equal(a, b)

    def test_modes_restored_after_error_and_bad_num_samples(self):
        net = self._net(0.5).train()
        net[1].eval()  # a mixed state comes back as it was
        with pytest.raises(RuntimeError):
            mc_dropout_predict(net, torch.randn(3, 7))  # wrong input width: the first Linear raises
        assert [m.training for m in net] == [True, False, True, True, True]
        with pytest.raises(ValueError, match="num_samples"):
            mc_dropout_predict(net, torch.randn(3, 4), num_samples=0)


class TestResidualMLPDropPath:
    """ResidualMLP's DropPath rates follow the linear decay rule and only act in training mode."""

    def test_rates_and_eval(self):
        from regviz.models import ResidualMLP
        torch.manual_seed(0)
        m = ResidualMLP(8, 3, width=16, blocks=4, drop_path=0.4)
        assert [round(d.p, 6) for d in m.drops] == [0.1, 0.2, 0.3, 0.4]
        x = torch.randn(6, 8)
        m.eval()
        torch.testing.assert_close(m(x), m(x))
        ref = ResidualMLP(8, 3, width=16, blocks=4, drop_path=0.0)
        ref.load_state_dict(m.state_dict())
        torch.testing.assert_close(m(x), ref.eval()(x))  # eval mode: identical to the model without DropPath
