"""BatchAugment's per-image warps against torchvision.transforms.v2.functional."""
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from regviz.augment import BatchAugment, apply_per_image, pipeline

BILINEAR = TF.InterpolationMode.BILINEAR


def _full(v, n=4):
    return torch.full((n,), float(v))


class TestWarp:
    """warp equals v2.functional.rotate / affine / horizontal_flip."""

    @pytest.mark.parametrize("shape", [(4, 1, 8, 8), (4, 3, 8, 10)])
    @pytest.mark.parametrize("angle,tx,ty,zoom", [(0, 0, 0, 1), (90, 0, 0, 1), (20, 1, -1, 1), (-35, 2, 1, 1.2),
                                                  (10, 0, 0, 0.9)])
    def test_matches_v2_affine(self, shape, angle, tx, ty, zoom):
        """Same parameters for every image: equals v2's affine (whose angle is clockwise) to 1e-5."""
        X = torch.rand(*shape, generator=torch.Generator().manual_seed(0))
        ref = TF.affine(X, angle=-angle, translate=[tx, ty], scale=zoom, shear=[0.0, 0.0], interpolation=BILINEAR)
        no_flip = torch.zeros(4, dtype=torch.bool)
        out = BatchAugment().warp(X, _full(angle), _full(tx), _full(ty), _full(zoom), no_flip)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)

    def test_rotation_direction_matches_rotate(self):
        """A positive angle turns the image counter-clockwise, as v2.functional.rotate."""
        X = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
        out = BatchAugment().warp(X, _full(90), _full(0), _full(0), _full(1), torch.zeros(4, dtype=torch.bool))
        torch.testing.assert_close(out, TF.rotate(X, 90.0), atol=1e-5, rtol=0)

    def test_per_image_parameters(self):
        """Each image gets its own parameters: a batch equals the images warped one by one."""
        X = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(2))
        angles, shifts = torch.tensor([0.0, 90.0, -30.0]), torch.tensor([0.0, 1.0, -2.0])
        flips = torch.tensor([False, True, False])
        out = BatchAugment().warp(X, angles, shifts, -shifts, torch.ones(3), flips)
        for i in range(3):  # BatchAugment flips first, then rotates and shifts
            xi = TF.horizontal_flip(X[i]) if flips[i] else X[i]
            ref = TF.affine(xi, angle=-float(angles[i]), translate=[float(shifts[i]), -float(shifts[i])],
                            scale=1.0, shear=[0.0, 0.0], interpolation=BILINEAR)
            torch.testing.assert_close(out[i], ref, atol=1e-5, rtol=0)


class TestBatchAugment:
    """The fit-facing call: per-image randomness, erasing, reproducibility."""

    def test_images_get_different_transforms(self):
        """Identical input images come out different (v2 on a batch would give them all the same draw)."""
        X = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(3)).expand(16, -1, -1, -1)
        out, _ = BatchAugment(degrees=30, shift=1)(X, torch.zeros(16, dtype=torch.long),
                                                   torch.Generator().manual_seed(0))
        assert len({tuple(o.flatten().round(decimals=4).tolist()) for o in out}) == 16
        ref = pipeline("standard")(X)  # v2 on the batch: one draw shared by all images
        assert torch.allclose(ref[0], ref[-1])

    def test_erasing_rate_and_area(self):
        """About erase_p of the images lose a rectangle of 5-20% of their pixels."""
        X = torch.ones(2000, 1, 8, 8)
        aug = BatchAugment(degrees=0, shift=0, scale=0, erase_p=0.5)
        out = aug.erase(X, torch.Generator().manual_seed(0))
        erased = (out == 0).flatten(1).float().mean(1)
        hit = erased > 0
        assert abs(float(hit.float().mean()) - 0.5) < 0.04
        assert float(erased[hit].min()) >= 2 / 64 and float(erased[hit].max()) <= 0.25

    def test_reproducible_and_labels_unchanged(self):
        """Same generator seed, same output; labels pass through; input untouched."""
        X = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(4))
        X0 = X.clone()
        y = torch.arange(8)
        aug = BatchAugment(erase_p=0.5)
        a, ya = aug(X, y, torch.Generator().manual_seed(1))
        b, _ = aug(X, y, torch.Generator().manual_seed(1))
        assert torch.equal(a, b) and torch.equal(ya, y) and torch.equal(X, X0)

    def test_bad_arguments(self):
        """Negative strengths, scale >= 1 and flat inputs raise ValueError."""
        for kwargs in (dict(degrees=-1), dict(scale=1.0), dict(erase_p=2.0)):
            with pytest.raises(ValueError):
                BatchAugment(**kwargs)
        with pytest.raises(ValueError):
            BatchAugment()(torch.rand(4, 64), torch.zeros(4))
        with pytest.raises(ValueError):
            pipeline("autoaugment")


class TestPipelines:
    """The v2 pipelines keep shape, range and dtype."""

    @pytest.mark.parametrize("name", ["standard", "randaugment", "trivialaugment", "rotate180"])
    def test_shape_and_range(self, name):
        """Output images have the input's shape, float dtype and values in [0, 1]."""
        torch.manual_seed(0)
        X = torch.rand(6, 1, 8, 8)
        out = apply_per_image(pipeline(name), X)
        assert out.shape == X.shape and out.dtype == torch.float32
        assert float(out.min()) >= 0 and float(out.max()) <= 1

    def test_rotate180_is_exact(self):
        """The label-destroying pipeline is a 180-degree turn: flip both axes."""
        X = torch.rand(2, 1, 8, 8)
        torch.testing.assert_close(apply_per_image(pipeline("rotate180"), X), X.flip(-1, -2), atol=1e-5, rtol=0)
