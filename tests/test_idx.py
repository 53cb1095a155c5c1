"""regviz.idx.read_idx on tiny IDX files the tests write (gzipped and plain), and the bad files it refuses."""
import gzip
import struct

import numpy as np
import pytest
import torch

from regviz.idx import read_idx


def write_idx(path, arr: np.ndarray, *, code: int = 0x08, gz: bool = False, cut: int = 0, magic: bytes = b"\0\0"):
    """An IDX file: two zero bytes, type code, ndim, big-endian dims, big-endian values; ``cut`` drops tail bytes."""
    big = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    raw = magic + bytes([code, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    raw += arr.astype(big).tobytes()
    raw = raw[: len(raw) - cut]
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


class TestReadIdx:
    """Values, shapes and types match what was written."""

    @pytest.mark.parametrize("gz", [False, True])
    def test_uint8_images(self, tmp_path, gz):
        """(N, H, W) uint8, gzipped or plain, told apart by content, not name."""
        arr = np.random.default_rng(0).integers(0, 256, (5, 4, 3)).astype(np.uint8)
        t = read_idx(write_idx(tmp_path / "x.idx", arr, gz=gz))  # no .gz in the name either way
        assert t.dtype == torch.uint8 and t.shape == (5, 4, 3)
        assert np.array_equal(t.numpy(), arr)

    @pytest.mark.parametrize("code,dtype", [(0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32),
                                            (0x0D, np.float32), (0x0E, np.float64)])
    def test_multibyte_types_are_big_endian(self, tmp_path, code, dtype):
        """Every IDX type code decodes to the values written in big-endian order."""
        arr = np.array([[-3, 1, 2], [7, -100, 120]], dtype=dtype)
        t = read_idx(write_idx(tmp_path / "v", arr, code=code))
        assert np.array_equal(t.numpy(), arr) and t.numpy().dtype == np.dtype(dtype)

    def test_labels_1d(self, tmp_path):
        arr = np.arange(10, dtype=np.uint8)
        assert read_idx(write_idx(tmp_path / "l.gz", arr, gz=True)).tolist() == list(range(10))


class TestBadFiles:
    """Each bad file raises a ValueError that says what is wrong."""

    @pytest.mark.parametrize("gz", [False, True])
    def test_truncated(self, tmp_path, gz):
        p = write_idx(tmp_path / "t", np.zeros((3, 4, 4), np.uint8), cut=5, gz=gz)
        with pytest.raises(ValueError, match="truncated"):
            read_idx(p)

    def test_truncated_header(self, tmp_path):
        p = write_idx(tmp_path / "t", np.zeros((3, 4, 4), np.uint8), cut=48 + 6)
        with pytest.raises(ValueError, match="truncated"):
            read_idx(p)

    def test_too_long(self, tmp_path):
        p = write_idx(tmp_path / "t", np.zeros((3, 4), np.uint8))
        p.write_bytes(p.read_bytes() + b"\0")
        with pytest.raises(ValueError, match="longer than its header"):
            read_idx(p)

    @pytest.mark.parametrize("gz", [False, True])
    def test_wrong_magic(self, tmp_path, gz):
        p = write_idx(tmp_path / "m", np.zeros((2, 2), np.uint8), magic=b"PK", gz=gz)
        with pytest.raises(ValueError, match="magic number"):
            read_idx(p)

    def test_unknown_type_code(self, tmp_path):
        p = tmp_path / "c"
        p.write_bytes(b"\0\0\x07\x01" + struct.pack(">I", 1) + b"\0")
        with pytest.raises(ValueError, match="type code 0x07"):
            read_idx(p)

    def test_broken_gzip(self, tmp_path):
        p = tmp_path / "g.gz"
        p.write_bytes(gzip.compress(b"\0\0\x08\x01" + struct.pack(">I", 100) + bytes(100))[:30])
        with pytest.raises(ValueError):
            read_idx(p)

    def test_header_promising_huge_data(self, tmp_path):
        """A 20-byte file whose header claims 2**40 bytes is refused before anything is read."""
        p = tmp_path / "h"
        p.write_bytes(b"\0\0\x08\x03" + struct.pack(">III", 2**20, 2**10, 2**10))
        with pytest.raises(ValueError, match="max_bytes"):
            read_idx(p)

    def test_not_a_file(self, tmp_path):
        with pytest.raises(ValueError, match="not a regular file"):
            read_idx(tmp_path)
        with pytest.raises(ValueError, match="not a regular file"):
            read_idx(tmp_path / "missing")
