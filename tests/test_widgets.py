import pytest

from regviz.history import History
from regviz.widgets import SliderPanel, choice_slider, log_slider


def _hist(scale, n=5):
    return History(train_loss=[scale / (i + 1) for i in range(n)], val_loss=[scale * 1.2 / (i + 1) for i in range(n)],
                   train_acc=[0.5] * n, val_acc=[0.4] * n)


def _panel(run=None, **kw):
    calls = []

    def default_run(a, b):
        calls.append((a, b))
        return _hist(a + b)

    def draw(result, fig, settings):
        ax = fig.subplots()
        ax.plot(result.truncated(settings["shown"]).val_loss)

    p = SliderPanel(run or default_run,
                    {"a": choice_slider("a", [1, 2, 3]), "b": log_slider("b", [0.0, 0.1, 1.0]),
                     "shown": choice_slider("shown", [2, 5], 5)},
                    draw, view_only=("shown",), **kw)
    return p, calls


class TestSliderPanel:
    """Retrain on change, cache by setting, redraw view-only controls without retraining."""

    def test_cache_and_view_only(self):
        p, calls = _panel()
        first = p.png
        assert first.startswith(b"\x89PNG") and calls == [(1, 0.0)]
        p.set(a=2)
        assert calls == [(1, 0.0), (2, 0.0)] and p.png != first and not p.last_cached
        p.set(a=1)  # revisited: no training
        assert len(calls) == 2 and p.last_cached and p.png == first
        p.set(shown=2)  # view-only: redraw, no training
        assert len(calls) == 2 and p.png != first

    def test_slider_change_triggers_update(self):
        """Moving a slider widget (as the browser does) retrains and redraws."""
        p, calls = _panel()
        p.controls["b"].value = 1.0
        assert calls[-1] == (1, 1.0) and "trained" in p.status_text

    def test_precompute_fills_cache(self):
        p, calls = _panel(precompute=lambda: [({"a": 3, "b": 0.1}, _hist(9))])
        p.set(a=3, b=0.1)
        assert p.last_cached and calls == [(1, 0.0)]

    def test_error_becomes_message(self):
        """An exception in run is shown in the status line; the notebook never sees a traceback."""
        def bad(a, b):
            if a == 2:
                raise ValueError("a=2 is not allowed here")
            return _hist(1)
        p, _ = _panel(run=bad)
        p.set(a=2)
        assert "a=2 is not allowed here" in p.status_text and p.last_error.startswith("ValueError")
        p.set(a=1)
        assert p.last_error is None

    def test_diverged_is_reported(self):
        p, _ = _panel(run=lambda a, b: History(train_loss=[1, float("nan")], val_loss=[1, float("nan")],
                                               train_acc=[0, 0], val_acc=[0, 0], stop_reason="diverged: x"))
        assert "diverged" in p.status_text

    def test_bad_set(self):
        p, _ = _panel()
        with pytest.raises(ValueError, match="unknown control"):
            p.set(c=1)
        with pytest.raises(ValueError, match="not a position"):
            p.set(a=7)

    def test_positions(self):
        p, _ = _panel()
        assert p.positions() == {"a": [1, 2, 3], "b": [0.0, 0.1, 1.0], "shown": [2, 5]}


class TestSavedPicture:
    """A displayed panel carries the widget view, a PNG of its current picture and one line of text."""

    def _bundle(self, p):
        from IPython.core.formatters import DisplayFormatter
        data, _ = DisplayFormatter().format(p)  # what IPython sends to the notebook for `panel` as a cell's last line
        return data

    def test_bundle_has_widget_view_png_and_one_line(self, monkeypatch):
        import base64
        monkeypatch.delenv("REGVIZ_FRAMES", raising=False)
        p, _ = _panel(title="Toy panel")
        data = self._bundle(p)
        assert "application/vnd.regviz.frames+json" not in data  # frames only when asked: each is drawn
        assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == p.widget.model_id
        png = base64.b64decode(data["image/png"])
        assert png.startswith(b"\x89PNG") and png == p.png
        text = data["text/plain"]
        assert "\n" not in text and "VBox" not in text
        assert "Toy panel" in text and "a=1" in text and "b=0" in text

    def test_png_follows_the_current_setting(self):
        """Displayed after a move, the bundle holds the new picture, not the first one."""
        import base64
        p, _ = _panel()
        first = base64.b64decode(self._bundle(p)["image/png"])
        p.set(a=3)
        data = self._bundle(p)
        assert base64.b64decode(data["image/png"]) == p.png != first and "a=3" in data["text/plain"]

    def test_no_picture_no_png(self):
        """A panel whose first setting failed has no picture: text and widget only, the error in the text."""
        def bad(a, b):
            raise ValueError("nothing to draw")
        p, _ = _panel(run=bad)
        data = self._bundle(p)
        assert "image/png" not in data and "nothing to draw" in data["text/plain"]

    def test_colab_widget_manager_named_in_metadata(self, monkeypatch):
        """On Colab with its widget manager enabled, the output metadata points at it (as Colab's own hook does)."""
        import sys
        import types
        from IPython.core.formatters import DisplayFormatter
        p, _ = _panel()
        _, md = DisplayFormatter().format(p)
        assert md == {}
        out = types.ModuleType("google.colab.output")
        out._widgets = types.SimpleNamespace(_installed_url="https://example.invalid/manager.min.js")
        monkeypatch.setitem(sys.modules, "google.colab.output", out)
        _, md = DisplayFormatter().format(p)
        view = md["application/vnd.jupyter.widget-view+json"]
        assert view["colab"]["custom_widget_manager"]["url"] == "https://example.invalid/manager.min.js"

    def test_widget_view_without_ipywidgets_8_repr(self):
        """ipywidgets 7 (preinstalled on Colab) has no _repr_mimebundle_: the view is built from the model id."""
        import types
        from IPython.core.formatters import DisplayFormatter
        p, _ = _panel()
        p.widget = types.SimpleNamespace(model_id="abc123")
        data, _ = DisplayFormatter().format(p)
        assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == "abc123" and "image/png" in data


class TestPanelView:
    """A PanelView is set up once and updated per picture; an error in update rebuilds it for the next one."""

    class View:
        def __init__(self):
            self.setups, self.updates = 0, 0

        def setup(self, fig):
            self.setups += 1
            self.line, = fig.subplots().plot([], [])

        def update(self, result, settings):
            self.updates += 1
            if settings["a"] == 2:
                self.line.set_data([0, 1], [0, float("nan")])
                raise ValueError("a=2 cannot be drawn")
            h = result.truncated(settings["shown"])
            self.line.set_data(h.epochs, h.val_loss)
            self.line.axes.relim()
            self.line.axes.autoscale_view()

    def test_setup_once_update_per_picture_and_recovery(self):
        from regviz.views import PanelView
        view = type("V", (self.View, PanelView), {})()
        p = SliderPanel(lambda a, b: _hist(a + b), {"a": choice_slider("a", [1, 2, 3]),
                                                    "b": choice_slider("b", [0, 1]),
                                                    "shown": choice_slider("shown", [2, 5], 5)},
                        view, view_only=("shown",))
        first = p.png
        p.set(a=3)
        p.set(shown=2)
        assert (view.setups, view.updates) == (1, 3) and p.last_error is None and len({first, p.png}) == 2
        p.set(a=2)
        assert p.last_error == "ValueError: a=2 cannot be drawn" and "a=2 cannot be drawn" in p.status_text
        p.set(a=1, shown=2)  # a new picture after the error: the figure is rebuilt, then updated
        assert view.setups == 2 and p.last_error is None
        p.png_cache.clear()
        p.set(a=1, shown=5)
        assert p.png == first  # the rebuilt figure draws the same picture as the first one
