"""Tests for regviz.experiments: the stored LM learning-rate sweep and the code that makes it."""
import json
import math
from pathlib import Path

import pytest

from regviz.experiments import lm_stability

STORED = Path(__file__).resolve().parents[1] / "notebooks" / "results" / "lm_lr_sweep.json"


@pytest.fixture()
def tiny_scale(monkeypatch):
    monkeypatch.setitem(lm_stability.SCALES, "tiny", dict(d_model=16, n_layers=1, n_heads=2, block_size=16,
                                                          n_train=64, epochs=2, batch_size=16))


class TestRunSweep:
    """run_sweep trains one model per (variant, lr) with the recipe it records."""

    def test_records_every_run(self, tiny_scale, tmp_path):
        """Each (variant, lr) gets a run with per-epoch loss, log Z and attention-logit series; the CLI writes JSON."""
        variants = (("a", 1e-4, True), ("b", 0.0, False))
        out = lm_stability.run_sweep(lrs=(1e-3, 1e-2), variants=variants, scale="tiny", device="cpu", progress=False)
        assert [(r["variant"], r["lr"]) for r in out["runs"]] == [("a", 1e-3), ("a", 1e-2), ("b", 1e-3), ("b", 1e-2)]
        for r in out["runs"]:
            assert len(r["val_loss"]) == len(r["log_z"]) == len(r["attn_logit_max"]) == 2
        assert out["config"]["weight_decay"] == 0.0 and out["config"]["betas"] == [0.9, 0.95]
        assert lm_stability.final_losses(out)["b"][1e-2] == out["runs"][3]["val_loss"][-1]
        json.dumps(out)  # JSON-friendly

    def test_same_seed_same_numbers(self, tiny_scale):
        """The sweep is reproducible: two calls give identical losses."""
        kw = dict(lrs=(3e-3,), variants=(("a", 1e-4, True),), scale="tiny", device="cpu", progress=False)
        assert lm_stability.run_sweep(**kw)["runs"][0]["val_loss"] == lm_stability.run_sweep(**kw)["runs"][0]["val_loss"]

    def test_gpu_scale_is_a_valid_configuration(self, monkeypatch):
        """The --scale gpu model and block size train (shrunk to 16 blocks and 1 epoch so it runs here)."""
        small = dict(lm_stability.SCALES["gpu"], n_train=16, epochs=1)
        monkeypatch.setitem(lm_stability.SCALES, "gpu", small)
        out = lm_stability.run_sweep(lrs=(1e-3,), variants=(("a", 1e-4, True),), scale="gpu", device="cpu",
                                     progress=False)
        assert out["config"]["model"]["d_model"] == 256 and out["config"]["model"]["block_size"] == 128
        assert math.isfinite(out["runs"][0]["val_loss"][0])

    def test_bad_scale(self):
        """An unknown scale raises ValueError naming the allowed ones."""
        with pytest.raises(ValueError, match="cpu"):
            lm_stability.run_sweep(scale="huge")


class TestStoredSweep:
    """The committed result file has what chapter 07 reads."""

    def test_shape(self):
        """At least 6 learning rates spanning at least 2 decades, for every variant of the module."""
        sweep = lm_stability.load(STORED)
        table = lm_stability.final_losses(sweep)
        assert set(table) == {name for name, _, _ in lm_stability.VARIANTS}
        for by_lr in table.values():
            lrs = sorted(by_lr)
            assert len(lrs) >= 6 and math.log10(lrs[-1] / lrs[0]) >= 2
