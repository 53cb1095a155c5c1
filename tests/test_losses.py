"""Label smoothing and soft-target cross-entropy against PyTorch's own implementation."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from regviz.losses import smooth_targets, soft_target_cross_entropy


class TestSmoothTargets:
    """smooth_targets in both conventions."""

    def test_pytorch_convention_values(self):
        """True class gets 1 - eps + eps/K, every other class eps/K."""
        t = smooth_targets(torch.tensor([1]), 3, 0.1)
        torch.testing.assert_close(t, torch.tensor([[0.1 / 3, 0.9 + 0.1 / 3, 0.1 / 3]]))

    def test_other_convention_values(self):
        """The eps/(K-1) convention puts exactly 1 - eps on the true class."""
        t = smooth_targets(torch.tensor([1]), 3, 0.1, convention="others")
        torch.testing.assert_close(t, torch.tensor([[0.05, 0.9, 0.05]]))

    @pytest.mark.parametrize("convention", ["pytorch", "others"])
    def test_rows_sum_to_one_and_input_unchanged(self, convention):
        """Rows are distributions; y is not modified."""
        y = torch.randint(0, 7, (50,), generator=torch.Generator().manual_seed(0))
        y0 = y.clone()
        t = smooth_targets(y, 7, 0.3, convention=convention)
        torch.testing.assert_close(t.sum(1), torch.ones(50))
        assert torch.equal(y, y0)

    def test_bad_arguments(self):
        """Out-of-range eps, bad convention, float labels raise ValueError."""
        y = torch.tensor([0, 1])
        for kwargs in (dict(eps=1.5), dict(eps=-0.1), dict(eps=0.1, convention="timm")):
            with pytest.raises(ValueError):
                smooth_targets(y, 3, **kwargs)
        with pytest.raises(ValueError):
            smooth_targets(y.float(), 3, 0.1)


class TestSoftTargetCrossEntropy:
    """The from-scratch loss equals nn.CrossEntropyLoss(label_smoothing=eps)."""

    @pytest.mark.parametrize("eps", [0.0, 0.05, 0.1, 0.3, 1.0])
    def test_matches_torch_label_smoothing(self, eps):
        """Value and gradient agree with PyTorch for several eps."""
        g = torch.Generator().manual_seed(1)
        logits = (3 * torch.randn(64, 10, generator=g)).requires_grad_()
        y = torch.randint(0, 10, (64,), generator=g)
        ours = soft_target_cross_entropy(logits, smooth_targets(y, 10, eps))
        (g1,) = torch.autograd.grad(ours, logits)
        ref = nn.CrossEntropyLoss(label_smoothing=eps)(logits, y)
        (g2,) = torch.autograd.grad(ref, logits)
        torch.testing.assert_close(ours, ref)
        torch.testing.assert_close(g1, g2)

    def test_other_convention_is_a_different_loss(self):
        """The eps/(K-1) targets do NOT give PyTorch's label-smoothed loss."""
        g = torch.Generator().manual_seed(2)
        logits = 3 * torch.randn(64, 10, generator=g)
        y = torch.randint(0, 10, (64,), generator=g)
        other = soft_target_cross_entropy(logits, smooth_targets(y, 10, 0.1, convention="others"))
        ref = nn.CrossEntropyLoss(label_smoothing=0.1)(logits, y)
        assert abs(float(other - ref)) > 1e-3

    def test_soft_targets_match_torch_probabilities(self):
        """Arbitrary soft targets agree with F.cross_entropy's probability-target mode."""
        g = torch.Generator().manual_seed(3)
        logits = torch.randn(20, 5, generator=g)
        targets = torch.rand(20, 5, generator=g).softmax(1)
        torch.testing.assert_close(soft_target_cross_entropy(logits, targets),
                                   torch.nn.functional.cross_entropy(logits, targets))

    def test_from_scratch_equals_fit_loss(self):
        """smooth_targets + soft_target_cross_entropy equal F.cross_entropy(label_smoothing=), fit's loss."""
        g = torch.Generator().manual_seed(4)
        logits = torch.randn(16, 4, generator=g)
        y = torch.randint(0, 4, (16,), generator=g)
        torch.testing.assert_close(soft_target_cross_entropy(logits, smooth_targets(y, 4, 0.2)),
                                   F.cross_entropy(logits, y, label_smoothing=0.2))

    def test_shape_mismatch(self):
        """Targets of the wrong shape raise ValueError."""
        with pytest.raises(ValueError):
            soft_target_cross_entropy(torch.zeros(4, 3), torch.zeros(4, 5))
