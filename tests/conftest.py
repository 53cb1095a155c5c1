"""Shared fixtures: everything on the CPU, tiny, offline."""
import os

import matplotlib
import pytest

matplotlib.use("agg")
os.environ.setdefault("REGVIZ_DEVICE", "cpu")


@pytest.fixture(scope="session")
def digits():
    import regviz
    return regviz.load_dataset("digits", n_train=120, n_val=200, seed=0, device="cpu")
