import pickle
import struct

import numpy as np
import pytest
import torch

import regviz
from regviz.data import flip_labels, load_dataset


class TestBuiltIn:
    """Offline datasets: shapes, ranges, fixed split."""

    def test_digits_shapes(self):
        """digits: (N, 1, 8, 8) in [0, 1], 10 classes, fixed 597-image validation set."""
        d = load_dataset("digits", n_train=50, device="cpu")
        assert d.X_train.shape == (50, 1, 8, 8) and d.X_val.shape == (597, 1, 8, 8)
        assert d.in_features == 64 and d.num_classes == 10
        assert 0 <= float(d.X_train.min()) and float(d.X_train.max()) <= 1

    def test_validation_independent_of_seed(self):
        """Different seeds pick different training subsets but the same validation set."""
        a = load_dataset("digits", n_train=50, seed=0, device="cpu")
        b = load_dataset("digits", n_train=50, seed=1, device="cpu")
        assert torch.equal(a.X_val, b.X_val)
        assert not torch.equal(a.X_train, b.X_train)

    def test_train_and_val_disjoint(self):
        """No validation image appears in the training pool."""
        d = load_dataset("digits", device="cpu")
        tr = {tuple(x.flatten().tolist()) for x in d.X_train}
        overlap = sum(tuple(x.flatten().tolist()) in tr for x in d.X_val)
        # digits has a handful of exact duplicate images across the dataset; anything more would be a bug
        assert overlap <= 5

    def test_mnist1d_matches_published_size(self):
        """mnist1d regenerated offline: 4000 train / 1000 test signals of length 40."""
        d = load_dataset("mnist1d", device="cpu")
        assert d.X_train.shape == (4000, 40) and d.X_val.shape == (1000, 40)
        assert sorted(d.y_train.unique().tolist()) == list(range(10))

    @pytest.mark.parametrize("name,k", [("moons", 2), ("circles", 2), ("spirals", 3), ("xor", 2)])
    def test_toy_2d(self, name, k):
        """2-D sets: requested sizes, 2 features, the right number of classes, noise knob works."""
        d = load_dataset(name, n_train=64, n_val=32, noise=0.0, device="cpu")
        assert d.X_train.shape == (64, 2) and d.X_val.shape == (32, 2) and d.num_classes == k
        noisy = load_dataset(name, n_train=64, n_val=32, noise=0.5, device="cpu")
        assert not torch.allclose(d.X_train, noisy.X_train)

    def test_circles_radii(self):
        """Noise-free circles sit exactly on radius 1 (class 0) and 0.5 (class 1)."""
        d = load_dataset("circles", n_train=100, noise=0.0, device="cpu")
        r = d.X_train.norm(dim=1)
        assert torch.allclose(r[d.y_train == 0], torch.ones(1), atol=1e-5)
        assert torch.allclose(r[d.y_train == 1], torch.full((1,), 0.5), atol=1e-5)


class TestLabelNoise:
    """Label noise flips exactly the requested fraction of training labels, to another class."""

    def test_fraction_and_changed(self):
        """round(fraction * N) labels change, each to a different class; validation untouched."""
        clean = load_dataset("digits", n_train=400, seed=2, device="cpu")
        noisy = load_dataset("digits", n_train=400, seed=2, label_noise=0.25, device="cpu")
        changed = clean.y_train != noisy.y_train
        assert int(changed.sum()) == 100
        assert torch.equal(changed, noisy.noisy_mask)
        assert torch.equal(clean.y_val, noisy.y_val)

    def test_flip_labels_does_not_modify_input(self):
        """The input label tensor is left alone."""
        y = torch.arange(10) % 3
        before = y.clone()
        flip_labels(y, 0.5, 3, torch.Generator().manual_seed(0))
        assert torch.equal(y, before)


class TestBadInput:
    """Bad arguments are ValueErrors that name what is allowed."""

    @pytest.mark.parametrize("kwargs,match", [
        (dict(name="imagenet"), "allowed: digits"),
        (dict(name="digits", n_train=0), "1 to 1200"),
        (dict(name="digits", n_train=5000), "1 to 1200"),
        (dict(name="digits", label_noise=1.0), r"\[0, 1\)"),
        (dict(name="digits", label_noise=-0.1), r"\[0, 1\)"),
        (dict(name="moons", n_train=0), ">= 1"),
    ])
    def test_errors(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            load_dataset(device="cpu", **kwargs)

def _write_idx(path, arr: np.ndarray):
    """Write an array in the IDX format torchvision's MNIST readers parse (uint8 data)."""
    code = {1: 0x0801, 3: 0x0803}[arr.ndim]
    header = struct.pack(">I", code) + b"".join(struct.pack(">I", s) for s in arr.shape)
    path.write_bytes(header + arr.astype(np.uint8).tobytes())


class TestTorchvisionLocalCopies:
    """The FashionMNIST / CIFAR-10 path, on tiny fake copies in torchvision's on-disk formats."""

    def test_fashion_mnist(self, tmp_path, no_system_fashion):
        """Images scaled to [0, 1], shape (N, 1, 28, 28), labels kept, subset honoured, class names."""
        raw = tmp_path / "FashionMNIST" / "raw"
        _fake_fashion(raw, gz=False)
        d = load_dataset("fashion_mnist", root=tmp_path, n_train=10, device="cpu")
        assert d.X_train.shape == (10, 1, 28, 28) and d.X_val.shape == (6, 1, 28, 28)
        assert d.num_classes == 10 and float(d.X_train.max()) <= 1.0
        assert d.y_val.tolist() == [0, 1, 2, 3, 4, 5]
        assert d.class_names[9] == "Ankle boot"

    def test_cifar10(self, tmp_path, monkeypatch):
        """CIFAR-10 python batches: (N, 3, 32, 32) channels-first in [0, 1]."""
        import os

        import torchvision.datasets.cifar as tv_cifar

        base = tmp_path / "cifar-10-batches-py"
        base.mkdir()
        rng = np.random.default_rng(0)
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        for i, name in enumerate(names):
            data = rng.integers(0, 256, (4, 3 * 32 * 32)).astype(np.uint8)
            data[0, :1024] = 255  # first image: red channel saturated
            with open(base / name, "wb") as f:
                pickle.dump({"data": data, "labels": [i % 10, 1, 2, 3]}, f)
        with open(base / "batches.meta", "wb") as f:
            pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)
        # torchvision checks the md5 of the official files; a fake copy cannot match, so check existence only
        monkeypatch.setattr(tv_cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))
        d = load_dataset("cifar10", root=tmp_path, device="cpu")
        assert d.X_train.shape == (20, 3, 32, 32) and d.X_val.shape == (4, 3, 32, 32)
        assert torch.all(d.X_val[0, 0] == 1.0)
        assert d.y_val.tolist() == [5, 1, 2, 3]


def test_public_names():
    """The names outside scripts rely on exist at the top level."""
    for name in ("default_device", "load_dataset", "MLP", "fit", "sweep", "EarlyStopping"):
        assert hasattr(regviz, name)


def test_mnist1d_disk_cache_matches_generation(tmp_path, monkeypatch):
    """The cached MNIST-1D copy equals a fresh make_dataset(get_dataset_args()) run."""
    from mnist1d.data import get_dataset_args, make_dataset

    from regviz import data as rd
    monkeypatch.setenv("REGVIZ_DATA", str(tmp_path))
    rd._mnist1d_pool.cache_clear()
    first = rd._mnist1d_pool()
    assert list(tmp_path.glob("mnist1d-*.pt")), "no cache file written"
    rd._mnist1d_pool.cache_clear()
    second = rd._mnist1d_pool()  # from the file this time
    ref = make_dataset(get_dataset_args())
    assert torch.equal(second[0], torch.tensor(ref["x"], dtype=torch.float32))
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    rd._mnist1d_pool.cache_clear()


def _fake_fashion(folder, *, gz: bool, n_train: int = 12, n_val: int = 6, fill: int | None = None):
    """The four FashionMNIST IDX files, tiny (28x28 images), gzipped or plain."""
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("t10k", n_val)):
        imgs = rng.integers(0, 256, (n, 28, 28)) if fill is None else np.full((n, 28, 28), fill)
        for stem, arr in ((f"{split}-images-idx3-ubyte", imgs), (f"{split}-labels-idx1-ubyte", np.arange(n) % 10)):
            _write_idx(folder / stem, arr)
            if gz:
                raw = (folder / stem).read_bytes()
                (folder / stem).unlink()
                (folder / (stem + ".gz")).write_bytes(gzip.compress(raw))


@pytest.fixture
def no_system_fashion(tmp_path, monkeypatch):
    """Hide Debian's copy and the user's cache, so only the places a test makes exist."""
    import regviz.datafiles as rd

    monkeypatch.setattr(rd, "DEBIAN_FASHION_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REGVIZ_DATA", raising=False)
    return rd


class TestFashionMNISTPlaces:
    """Where load_dataset("fashion_mnist") looks, in order, and what it says when nothing is there."""

    def test_missing_everywhere(self, tmp_path, no_system_fashion):
        """A ValueError (and FileNotFoundError) naming every place looked and both ways to get the data."""
        with pytest.raises(ValueError) as err:
            load_dataset("fashion_mnist", root=tmp_path / "mine", device="cpu")
        msg = str(err.value)
        assert isinstance(err.value, FileNotFoundError)
        for place in no_system_fashion.fashion_mnist_places(tmp_path / "mine"):
            assert str(place) in msg
        assert "apt-get install dataset-fashion-mnist" in msg and "download=True" in msg

    def test_order(self, tmp_path, no_system_fashion):
        """root first, then Debian's folder, then the torchvision cache."""
        rd = no_system_fashion
        _fake_fashion(tmp_path / "no-debian", gz=True, fill=50)
        _fake_fashion(tmp_path / "home" / ".cache" / "regviz" / "FashionMNIST" / "raw", gz=True, fill=200)
        assert float(load_dataset("fashion_mnist", device="cpu").X_val.max()) == pytest.approx(50 / 255)
        _fake_fashion(tmp_path / "mine", gz=False, fill=100)  # flat folder, plain files
        assert float(load_dataset("fashion_mnist", root=tmp_path / "mine", device="cpu").X_val.max()) == \
            pytest.approx(100 / 255)
        rd.DEBIAN_FASHION_DIR = tmp_path / "gone"
        assert float(load_dataset("fashion_mnist", device="cpu").X_val.max()) == pytest.approx(200 / 255)

    def test_env_var(self, tmp_path, no_system_fashion, monkeypatch):
        _fake_fashion(tmp_path / "env" / "FashionMNIST" / "raw", gz=True, fill=10)
        monkeypatch.setenv("REGVIZ_DATA", str(tmp_path / "env"))
        assert float(load_dataset("fashion_mnist", device="cpu").X_train.max()) == pytest.approx(10 / 255)

    def test_bad_file_is_a_clear_error(self, tmp_path, no_system_fashion):
        """A file with the right name but not IDX content (here: text) raises ValueError, not a torch error."""
        _fake_fashion(tmp_path / "bad", gz=False)
        (tmp_path / "bad" / "t10k-labels-idx1-ubyte").write_text("<html>not found</html>")
        with pytest.raises(ValueError, match="magic number"):
            load_dataset("fashion_mnist", root=tmp_path / "bad", device="cpu")

    def test_label_out_of_range(self, tmp_path, no_system_fashion):
        _fake_fashion(tmp_path / "lab", gz=False)
        _write_idx(tmp_path / "lab" / "t10k-labels-idx1-ubyte", np.full(6, 12))
        with pytest.raises(ValueError, match="classes are 0-9"):
            load_dataset("fashion_mnist", root=tmp_path / "lab", device="cpu")


@pytest.mark.skipif(not __import__("regviz.data").data.DEBIAN_FASHION_DIR.is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed (make test installs it when root)")
class TestRealFashionMNIST:
    """The installed Debian package: the published sizes and a balanced test set."""

    def test_sizes_and_balance(self):
        d = load_dataset("fashion_mnist", n_train=600, device="cpu")
        full = load_dataset("fashion_mnist", device="cpu")
        assert full.X_train.shape == (60000, 1, 28, 28) and full.X_val.shape == (10000, 1, 28, 28)
        assert torch.bincount(full.y_val).tolist() == [1000] * 10  # 1,000 test images per class
        assert torch.bincount(full.y_train).tolist() == [6000] * 10
        assert d.X_train.shape == (600, 1, 28, 28) and torch.equal(d.X_val, full.X_val)
