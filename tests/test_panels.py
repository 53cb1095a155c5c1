"""Reliability sweep: every slider of every registered panel, across its whole range (ends included).

In the kernel, without a browser: each position must give a PNG plot (or a clear ValueError message in
the panel), never an exception; a run whose loss became NaN/inf must say "diverged" in the status line.
"""
from __future__ import annotations

import struct

import pytest

import regviz
from regviz.history import History
from regviz.panels import PANELS, open_panel
from regviz.widgets import SliderPanel, _histories, choice_slider


def _png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; raises if ``png`` is not a PNG."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise AssertionError(f"not a PNG: {png[:16]!r}")
    return struct.unpack(">II", png[16:24])


def _label(name, value) -> str:
    return f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"


def check_position(panel: SliderPanel, where: str) -> bytes | None:
    """Assert the panel shows a plot for its current settings (or a clear message); return the PNG shown."""
    settings = panel.settings
    status = panel.status_text
    if panel.last_error is not None:
        # a deliberate, readable refusal is allowed; anything else is a crash dressed as a message
        assert panel.last_error.startswith("ValueError: "), f"{where}: {panel.last_error}"
        assert "could not show this setting" in status
        return None
    width, height = _png_size(panel.png)
    assert width > 100 and height > 100, f"{where}: picture is {width}x{height}"
    for name, value in settings.items():  # the status line names the setting that is shown
        if name not in panel.view_only:
            assert _label(name, value) in status, f"{where}: status {status!r} lacks {_label(name, value)}"
    result = panel.cache[panel._key(settings)]
    if any(h.diverged for h in _histories(result)):
        assert "diverged" in status, f"{where}: a run diverged but the status says {status!r}"
    else:
        assert "diverged" not in status and ("trained" in status or "from cache" in status), f"{where}: {status!r}"
    return panel.png


@pytest.fixture(scope="module", params=sorted(PANELS))
def opened(request):
    chapter = request.param
    panel = open_panel(chapter, fast=True, device="cpu", seed=0)
    return chapter, panel, dict(panel.settings)


class TestEverySliderPosition:
    """Each registered panel, each slider, each position (others at their defaults), then the corners."""

    def test_opens_with_a_plot(self, opened):
        """The default setting is shown without an error."""
        chapter, panel, default = opened
        assert panel.last_error is None, f"chapter {chapter} opened with: {panel.last_error}"
        check_position(panel, f"chapter {chapter} default {default}")

    def test_whole_range_of_each_slider(self, opened):
        """Every position of every slider gives a plot; different positions give different pictures."""
        chapter, panel, default = opened
        for name, values in panel.positions().items():
            assert len(values) >= 2, f"chapter {chapter}: slider {name} has a single position"
            pictures = {}
            for value in values:  # ends included: positions() lists every option
                panel.set(**{**default, name: value})
                png = check_position(panel, f"chapter {chapter}, {name}={value!r}")
                if png is not None:
                    pictures[value] = png
            assert len(set(pictures.values())) == len(pictures), \
                f"chapter {chapter}: slider {name} shows the same picture at two positions"
            panel.set(**default)

    def test_corners(self, opened):
        """All sliders at their first position at once, then all at their last."""
        chapter, panel, default = opened
        pos = panel.positions()
        for end, pick in (("first", 0), ("last", -1)):
            corner = {name: values[pick] for name, values in pos.items()}
            panel.set(**corner)
            check_position(panel, f"chapter {chapter}, all sliders at their {end} position {corner}")
        panel.set(**default)


class TestDivergedRun:
    """A real training run that blows up (SGD, lr=1e10) is reported as diverged, not as a traceback."""

    def test_nan_loss_reported(self, digits):
        """lr=1e10 drives the loss to NaN in the first epoch; the panel says so and still draws."""
        def run(lr):
            return regviz.fit(regviz.MLP(64, 10, width=32), digits, epochs=3, lr=lr, optimizer="sgd",
                              batch_size=64, seed=0, device="cpu", progress=False)

        def draw(hist, fig, settings):
            fig.subplots().plot(hist.train_loss)

        panel = SliderPanel(run, {"lr": choice_slider("lr", [0.01, 1e10])}, draw)
        check_position(panel, "lr=0.01")
        assert "diverged" not in panel.status_text
        panel.set(lr=1e10)
        hist = panel.cache[panel._key(panel.settings)]
        assert isinstance(hist, History) and hist.diverged
        check_position(panel, "lr=1e10")
        assert "diverged" in panel.status_text


def _hist_of(result) -> History:
    """The History a panel result is about: the first one in it (ch07's result also carries its z-loss-0 reference)."""
    return _histories(result)[0]


# view-only sliders that replay a stored run: their value must show in the drawn titles instead
SHOWN = {"06": {"patience": "patience={}", "min_delta": "min_delta={:g}"}}


class TestSettingsAreRecorded:
    """Every run slider's value reaches the training call: moved off its default, it is named in History.config."""

    def test_every_run_slider_lands_in_config(self, opened):
        """One name per knob: each run slider is labelled with its own name, and moved off its default, that name
        holds its value in History.config (no translation table)."""
        chapter, panel, default = opened
        run_sliders = [n for n in panel.controls if n not in panel.view_only]
        assert run_sliders, chapter
        for name in run_sliders:
            assert panel.controls[name].description == name, (chapter, name, panel.controls[name].description)
            values = [v for v in panel.positions()[name] if v != default[name] and v != 0]
            value = values[-1]
            panel.set(**{**default, name: value})
            assert panel.last_error is None, f"chapter {chapter}, {name}={value!r}: {panel.last_error}"
            config = _hist_of(panel.cache[panel._key(panel.settings)]).config
            assert config.get(name) == value, f"chapter {chapter}: {name}={value!r} not in {config}"
        panel.set(**default)

    def test_view_only_replays_show_their_values(self, opened):
        chapter, panel, default = opened
        for name, fmt in SHOWN.get(chapter, {}).items():
            value = [v for v in panel.positions()[name] if v != default[name]][-1]
            panel.set(**{**default, name: value})
            titles = " ".join(ax.get_title() for ax in panel.fig.axes)
            assert fmt.format(value) in titles, f"chapter {chapter}: {name}={value!r} not drawn: {titles!r}"
        panel.set(**default)

