import pytest
import torch
from torch import nn

from regviz.models import CNN, MLP, count_parameters


class TestMLP:
    """MLP shapes, flattening and parameter count."""

    def test_flat_and_image_inputs_agree(self):
        """An (B, 1, 8, 8) batch and its flattened (B, 64) version give the same logits."""
        torch.manual_seed(0)
        m = MLP(64, 10, width=16, depth=2)
        x = torch.randn(5, 1, 8, 8)
        assert torch.equal(m(x), m(x.flatten(1)))

    def test_parameter_count(self):
        """64-256-256-10: (64*256+256) + (256*256+256) + (256*10+10) parameters."""
        m = MLP(64, 10, width=256, depth=2)
        assert count_parameters(m) == 64 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10

    def test_depth_zero_is_logistic_regression(self):
        """depth=0 is a single linear layer."""
        m = MLP(4, 3, depth=0)
        assert count_parameters(m) == 4 * 3 + 3

    @pytest.mark.parametrize("kwargs", [dict(p=1.0), dict(p=-0.1), dict(width=0), dict(depth=-1)])
    def test_bad_args(self, kwargs):
        with pytest.raises(ValueError):
            MLP(4, 3, **kwargs)

    def test_dropout_only_in_train_mode(self):
        """With p>0 two train-mode passes differ; eval mode is deterministic."""
        torch.manual_seed(0)
        m = MLP(8, 2, width=64, p=0.5)
        x = torch.randn(4, 8)
        assert not torch.equal(m(x), m(x))
        m.eval()
        assert torch.equal(m(x), m(x))


class TestCNN:
    """CNN for 1-D signals and images."""

    @pytest.mark.parametrize("shape", [(40,), (2, 40), (1, 8, 8), (3, 32, 32)])
    def test_shapes(self, shape):
        m = CNN(shape, 10, channels=4)
        assert m(torch.randn(3, *shape)).shape == (3, 10)

    def test_bad_shape(self):
        with pytest.raises(ValueError, match="input_shape"):
            CNN((1, 2, 3, 4), 10)


def test_count_shared_once():
    """A tensor shared by two modules counts once."""
    a = nn.Linear(3, 3, bias=False)
    seq = nn.Sequential(a, a)
    assert count_parameters(seq) == 9


class TestCNNFlattenHead:
    """CNN(hidden=...): the two-conv benchmark CNN (flatten -> hidden layer -> logits)."""

    def test_shapes_and_parameters(self):
        m = CNN((1, 28, 28), 10, channels=32, hidden=128)
        assert m(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
        conv = (1 * 9 + 1) * 32 + (32 * 9 + 1) * 64
        assert count_parameters(m) == conv + (64 * 7 * 7 + 1) * 128 + (128 + 1) * 10
        assert m.hparams["hidden"] == 128

    def test_too_small_input(self):
        with pytest.raises(ValueError, match="too small"):
            CNN((1, 3, 3), 10, hidden=16)
