"""Mixup and CutMix against torchvision's v2.MixUp / v2.CutMix."""
import pytest
import torch
from torchvision.transforms import v2

from regviz.mixing import cutmix, mixing_transform, mixup, sample_lambda


def _batch(seed=0, n=32):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)


class TestAgainstTorchvision:
    """With the same global seed the from-scratch versions reproduce torchvision exactly."""

    @pytest.mark.parametrize("alpha", [0.2, 1.0, 3.0])
    def test_mixup_exact(self, alpha):
        """Images and soft targets equal v2.MixUp's."""
        X, y = _batch()
        for s in range(5):
            torch.manual_seed(s)
            X_ref, t_ref = v2.MixUp(alpha=alpha, num_classes=10)(X, y)
            torch.manual_seed(s)
            X_ours, t_ours = mixup(X, y, alpha, 10)
            torch.testing.assert_close(X_ours, X_ref)
            torch.testing.assert_close(t_ours, t_ref)

    @pytest.mark.parametrize("alpha", [0.5, 1.0])
    def test_cutmix_exact(self, alpha):
        """Images and area-weighted targets equal v2.CutMix's."""
        X, y = _batch(1)
        for s in range(5):
            torch.manual_seed(s)
            X_ref, t_ref = v2.CutMix(alpha=alpha, num_classes=10)(X, y)
            torch.manual_seed(s)
            X_ours, t_ours = cutmix(X, y, alpha, 10)
            torch.testing.assert_close(X_ours, X_ref)
            torch.testing.assert_close(t_ours, t_ref)

    def test_mixup_statistics_with_private_generator(self):
        """With a generator, lambda (read off the targets) has Beta(a, a)'s mean and variance, like v2.MixUp's."""
        alpha = 0.4
        X, y = torch.rand(2, 1, 2, 2), torch.tensor([0, 1])  # neighbours differ: target[0, 0] = lambda
        g = torch.Generator().manual_seed(0)
        ours = torch.tensor([float(mixup(X, y, alpha, 2, generator=g)[1][0, 0]) for _ in range(4000)])
        torch.manual_seed(0)
        ref = torch.tensor([float(v2.MixUp(alpha=alpha, num_classes=2)(X, y)[1][0, 0]) for _ in range(4000)])
        var = 1 / (4 * (2 * alpha + 1))  # Beta(a, a) variance
        for lam in (ours, ref):
            assert abs(float(lam.mean()) - 0.5) < 0.02
            assert abs(float(lam.var()) - var) < 0.01
        assert abs(float(ours.mean() - ref.mean())) < 0.03

    def test_mixup_equal_in_expectation(self):
        """Averaged over many draws, both give 0.5 * (X + X.roll(1))."""
        X, y = _batch(2, n=8)
        g = torch.Generator().manual_seed(1)
        ours = torch.stack([mixup(X, y, 1.0, 10, generator=g)[0] for _ in range(3000)]).mean(0)
        ref = torch.stack([v2.MixUp(alpha=1.0, num_classes=10)(X, y)[0] for _ in range(3000)]).mean(0)
        expected = 0.5 * (X + X.roll(1, 0))
        assert float((ours - expected).abs().max()) < 0.03
        assert float((ref - expected).abs().max()) < 0.03


class TestProperties:
    """Soft targets are distributions and the inputs are untouched."""

    @pytest.mark.parametrize("fn", [mixup, cutmix])
    def test_rows_sum_to_one(self, fn):
        """Every target row sums to 1 and the inputs are not modified."""
        X, y = _batch(3)
        X0, y0 = X.clone(), y.clone()
        g = torch.Generator().manual_seed(0)
        Xm, t = fn(X, y, 1.0, 10, generator=g)
        torch.testing.assert_close(t.sum(1), torch.ones(len(y)))
        assert Xm.shape == X.shape and torch.equal(X, X0) and torch.equal(y, y0)

    def test_cutmix_target_weight_is_pasted_area(self):
        """The weight of the neighbour's label equals the fraction of pixels taken from the neighbour."""
        X = torch.zeros(2, 1, 16, 16)
        X[1] = 1.0  # image 0 receives a patch of ones from image 1 (roll pairs 0 with 1)
        y = torch.tensor([0, 1])
        g = torch.Generator().manual_seed(5)
        for _ in range(20):
            Xm, t = cutmix(X, y, 1.0, 2, generator=g)
            assert abs(float(Xm[0].mean()) - float(t[0, 1])) < 1e-6

    def test_generator_reproducible(self):
        """The same generator seed gives the same output."""
        X, y = _batch(4)
        a = cutmix(X, y, 1.0, 10, generator=torch.Generator().manual_seed(7))
        b = cutmix(X, y, 1.0, 10, generator=torch.Generator().manual_seed(7))
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])

    def test_bad_arguments(self):
        """alpha <= 0, non-image cutmix, float labels and unknown methods raise ValueError."""
        X, y = _batch()
        with pytest.raises(ValueError):
            mixup(X, y, 0.0, 10)
        with pytest.raises(ValueError):
            cutmix(X.flatten(1), y, 1.0, 10)
        with pytest.raises(ValueError):
            mixup(X, y.float(), 1.0, 10)
        with pytest.raises(ValueError):
            mixing_transform("manifold", 1.0, 10)

    def test_sample_lambda_restores_global_state(self):
        """Drawing with a private generator leaves torch's global stream untouched."""
        torch.manual_seed(0)
        a = torch.rand(3)
        torch.manual_seed(0)
        sample_lambda(0.5, torch.Generator().manual_seed(1))
        assert torch.equal(torch.rand(3), a)
