"""The IDX file format of MNIST and FashionMNIST, read with the standard library and torch.

Format: LeCun, Cortes & Burges, "The MNIST database" (the page's "FILE FORMATS" section): two zero bytes, a
type code, the number of dimensions, one big-endian uint32 per dimension, then the values in C order.
FashionMNIST (Xiao, Rasul & Vollgraf 2017, arXiv 1708.07747) ships the same four files, gzipped.
"""
from __future__ import annotations

import gzip
import os
import stat
from pathlib import Path

import torch

# type code -> (torch dtype, bytes per value)
_TYPES = {0x08: (torch.uint8, 1), 0x09: (torch.int8, 1), 0x0B: (torch.int16, 2), 0x0C: (torch.int32, 4),
          0x0D: (torch.float32, 4), 0x0E: (torch.float64, 8)}
MAX_BYTES = 256 * 2**20  # the largest FashionMNIST file is 47 MB unpacked; anything far bigger is not one


def read_idx(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES) -> torch.Tensor:
    """Read one IDX file (plain, or gzipped: told by its first two bytes, not its name).

    Args:
        path: the file.
        max_bytes: refuse files whose header promises more values than this (a hostile or wrong file).

    Returns:
        A CPU tensor of the file's type and shape, e.g. (60000, 28, 28) uint8 for training images.

    Raises:
        ValueError: not a regular file, wrong magic number, unknown type code, or fewer/more bytes than the header says.
    """
    path = Path(path)
    if not path.is_file() or not stat.S_ISREG(path.stat().st_mode):
        raise ValueError(f"{path} is not a regular file: an IDX file was expected")
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    try:
        with opener(path, "rb") as fh:
            header = fh.read(4)
            if len(header) < 4 or header[:2] != b"\x00\x00":
                raise ValueError(f"{path}: magic number {header.hex() or 'missing'} is not an IDX file's "
                                 "(it must start with two zero bytes, a type code and a dimension count)")
            code, ndim = header[2], header[3]
            if code not in _TYPES:
                raise ValueError(f"{path}: IDX type code 0x{code:02x} is not one of "
                                 f"{', '.join(f'0x{c:02x}' for c in _TYPES)}")
            if not 1 <= ndim <= 4:
                raise ValueError(f"{path}: {ndim} dimensions; an IDX data file has 1 to 4")
            dims_raw = fh.read(4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise ValueError(f"{path} is truncated: its header ends after {len(dims_raw)} of {4 * ndim} "
                                 "dimension bytes")
            shape = [int.from_bytes(dims_raw[4 * i: 4 * i + 4], "big") for i in range(ndim)]
            dtype, width = _TYPES[code]
            expected = width
            for s in shape:
                expected *= s
            if expected > max_bytes:
                raise ValueError(f"{path}: header promises {expected:,} bytes of data (shape {shape}); "
                                 f"more than max_bytes={max_bytes:,}")
            body = fh.read(expected + 1)
    except (OSError, EOFError) as exc:  # gzip: "Not a gzipped file", "Compressed file ended before ..."
        raise ValueError(f"{path} could not be read as an IDX file: {exc}") from exc
    if len(body) != expected:
        what = "truncated" if len(body) < expected else "longer than its header says"
        raise ValueError(f"{path} is {what}: {len(body):,}{'+' if len(body) > expected else ''} data bytes "
                         f"for shape {shape}, which needs {expected:,}")
    t = torch.frombuffer(bytearray(body), dtype=torch.uint8) if width == 1 else None
    if t is None:  # multi-byte values are big-endian in IDX
        import numpy as np

        np_type = {torch.int16: ">i2", torch.int32: ">i4", torch.float32: ">f4", torch.float64: ">f8"}[dtype]
        t = torch.from_numpy(np.frombuffer(body, dtype=np_type).astype(np_type[1:]))
    elif dtype == torch.int8:
        t = t.view(torch.int8)
    return t.reshape(shape).clone()
