import pytest
import torch

import regviz
from regviz.device import default_device, resolve_device, seeded


class TestDevice:
    """Device choice and validation."""

    def test_env_override(self, monkeypatch):
        """REGVIZ_DEVICE wins over auto-detection."""
        monkeypatch.setenv("REGVIZ_DEVICE", "cpu")
        assert default_device() == torch.device("cpu")

    def test_auto_prefers_cuda(self, monkeypatch):
        """With no override, cuda is chosen when torch reports it available."""
        monkeypatch.delenv("REGVIZ_DEVICE", raising=False)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        assert default_device().type == "cuda"

    def test_auto_falls_back_to_cpu(self, monkeypatch):
        """No cuda, no mps: cpu."""
        monkeypatch.delenv("REGVIZ_DEVICE", raising=False)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
        assert default_device() == torch.device("cpu")

    @pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
    def test_unavailable_device(self):
        """Asking for cuda where there is none names what is available."""
        with pytest.raises(ValueError, match="not available.*cpu"):
            resolve_device("cuda")

    def test_malformed(self):
        """A nonsense device string is a ValueError, not a RuntimeError from torch."""
        with pytest.raises(ValueError, match="not a device name"):
            resolve_device("gpu-please")

    def test_seeded_reproduces_and_restores(self):
        """Same seed, same draws inside the block; the caller's generator continues as if the block never ran."""
        torch.manual_seed(7)
        expected = torch.rand(3)
        torch.manual_seed(7)
        with seeded(3):
            a = torch.rand(5)
        with seeded(3):
            b = torch.rand(5)
        assert torch.equal(a, b) and torch.equal(torch.rand(3), expected)
        with pytest.raises(ValueError, match="seed"):
            with seeded(1.5):
                pass

    def test_report_mentions_versions(self):
        """The first-cell report lists torch's version and the device."""
        text = regviz.environment_report("cpu")
        assert torch.__version__ in text and "device      cpu" in text


class TestModeLine:
    """The mode line a chapter prints after its parameters."""

    def test_modes_differ_and_name_themselves(self):
        """FAST and full lines are different and say which mode they are."""
        from regviz import mode_line
        assert mode_line(True).startswith("mode: FAST") and mode_line(False).startswith("mode: full")
        assert mode_line(False) not in mode_line(True)

    def test_bad_value(self):
        """A non-bool (e.g. the string "False" from a command line) raises ValueError."""
        from regviz import mode_line
        with pytest.raises(ValueError, match="'False'"):
            mode_line("False")
