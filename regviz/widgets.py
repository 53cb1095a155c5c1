"""Slider panels: the ONLY module that imports ipywidgets (the frames a static page needs: ``regviz.frames``).

A panel retrains when a slider is released (``continuous_update=False``), caches every result by its
settings so a revisited setting redraws at once, shows a status line while it works, and turns any error
into a message in the panel instead of a traceback.
"""
from __future__ import annotations

import base64
import dataclasses
import gc
import html
import io
import os
import re
import sys
import time
from typing import Any, Callable, Iterable, Mapping

import ipywidgets as W
from matplotlib.figure import Figure

from .artists import set_margins
from .frames import FRAMES_ENV, FRAMES_MIME, WIDGET_VIEW, panel_frames
from .history import History
from .views import PanelView

Settings = dict[str, Any]


def log_slider(description: str, values: Iterable[float], value: float | None = None) -> W.SelectionSlider:
    """A slider over given (e.g. log-spaced) values, labelled compactly; includes 0 if listed."""
    values = list(values)
    opts = [(f"{v:g}", v) for v in values]
    return W.SelectionSlider(options=opts, value=values[0] if value is None else value, description=description,
                             continuous_update=False, style={"description_width": "initial"})


def choice_slider(description: str, values: Iterable, value=None) -> W.SelectionSlider:
    """A slider over a fixed list of values (ints, floats or strings)."""
    values = list(values)
    return W.SelectionSlider(options=[(str(v), v) for v in values], value=values[0] if value is None else value,
                             description=description, continuous_update=False,
                             style={"description_width": "initial"})


def _colab_metadata() -> dict[str, Any]:
    """Output metadata that points Colab at its custom widget manager, when one is enabled; else {}."""
    out = sys.modules.get("google.colab.output")
    url = getattr(getattr(out, "_widgets", None), "_installed_url", None)
    return {WIDGET_VIEW: {"colab": {"custom_widget_manager": {"url": url}}}} if isinstance(url, str) else {}


def _histories(result) -> list[History]:
    """Every History in a run's result (a History, an experiment's dataclass, or dicts and lists of them), in order."""
    if isinstance(result, History):
        return [result]
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return [h for f in dataclasses.fields(result) for h in _histories(getattr(result, f.name))]
    if isinstance(result, Mapping):
        return [h for v in result.values() for h in _histories(v)]
    if isinstance(result, (list, tuple)):
        return [h for v in result for h in _histories(v)]
    return []


class SliderPanel:
    """Sliders -> ``run(**settings)`` (cached) -> ``plot.update(result, settings)`` -> PNG in the panel.

    Args:
        run: trains (or computes) a result for one setting of the run controls.
        controls: ``{name: slider}``; names are the keyword arguments of ``run`` and ``plot``.
        plot: a ``regviz.views.PanelView``: its ``setup(fig)`` runs once on the panel's one figure, its
            ``update(result, settings)`` per new picture (only data, limits and texts change, so a picture costs
            one Agg draw). A plain function ``plot(result, fig, settings)`` also works: it draws on an emptied
            figure each time (slower). Never train there; never call ``tight_layout`` (~0.3 s a redraw).
        view_only: control names that only change the picture (e.g. which epoch to show): no retraining.
        precompute: optional ``() -> iterable of (settings, result)`` run when the panel opens (e.g. one
            batched ``sweep`` over a whole slider's grid), filling the cache.
        title: shown above the sliders.
        figsize, dpi: of the rendered picture.
    """

    def __init__(self, run: Callable[..., Any], controls: Mapping[str, W.ValueWidget],
                 plot: PanelView | Callable[[Any, Figure, Settings], None], *, view_only: Iterable[str] = (),
                 precompute: Callable[[], Iterable[tuple[Settings, Any]]] | None = None, title: str = "",
                 figsize: tuple[float, float] = (10, 3.6), dpi: int = 80):
        self.run_fn, self.plot_fn = run, plot
        self.controls = dict(controls)
        self.view_only = set(view_only)
        unknown = self.view_only - set(self.controls)
        if unknown:
            raise ValueError(f"view_only names {sorted(unknown)} are not controls; controls: {sorted(self.controls)}")
        self.cache: dict[tuple, Any] = {}
        self.png_cache: dict[tuple, bytes] = {}  # full settings (view-only included) -> rendered picture
        self.fig = Figure(figsize=figsize, dpi=dpi)
        self._view_ready = False  # the view's axes and artists exist on self.fig
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%"))
        self.status = W.HTML()
        self.title_text = title
        self.title = W.HTML(f"<b>{html.escape(title)}</b>" if title else "")
        self.widget = W.VBox([self.title, W.HBox(list(self.controls.values()), layout=W.Layout(flex_flow="row wrap")),
                              self.status, self.image])
        self.widget.add_class("regviz-panel")
        self.last_seconds = 0.0
        self.last_cached = False
        self.last_error: str | None = None
        self._muted = False
        for w in self.controls.values():
            w.observe(self._on_change, names="value")
        if precompute is not None:
            t = time.perf_counter()
            try:
                for settings, result in precompute():
                    self.cache[self._key(settings)] = result
                self.precompute_seconds = time.perf_counter() - t
            except Exception as exc:  # noqa: BLE001 -- shown in the panel, never a traceback
                self._show_error(exc)
                self.precompute_seconds = time.perf_counter() - t
        self.update()
        # one full garbage collection now, while the panel opens: training leaves many objects behind, and a
        # full collection that falls on a later slider move adds about 0.25 s to that one redraw
        gc.collect()

    # -- state
    @property
    def settings(self) -> Settings:
        return {name: w.value for name, w in self.controls.items()}

    def _key(self, settings: Mapping[str, Any]) -> tuple:
        return tuple(sorted((k, v) for k, v in settings.items() if k not in self.view_only))

    @property
    def png(self) -> bytes:
        return bytes(self.image.value)

    @property
    def status_text(self) -> str:
        return self.status.value

    # -- actions
    def set(self, **settings) -> None:
        """Move several sliders at once (one retrain/redraw); unknown names or values raise ValueError."""
        for name, value in settings.items():
            if name not in self.controls:
                raise ValueError(f"unknown control {name!r}; controls: {sorted(self.controls)}")
        self._muted = True
        try:
            for name, value in settings.items():
                try:
                    self.controls[name].value = value
                except Exception as exc:  # traitlets.TraitError for an option not on the slider
                    raise ValueError(f"{name}={value!r} is not a position of that slider") from exc
        finally:
            self._muted = False
        self.update()

    def _on_change(self, change) -> None:
        if not self._muted:
            self.update()

    def _set_status(self, text: str, colour: str = "#555") -> None:
        self.status.value = f"<span style='color:{colour}'>{text}</span>"

    def _show_error(self, exc: Exception) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        self._set_status(f"&#9888; could not show this setting: {html.escape(self.last_error)}", "#b00020")

    def picture(self, settings: Settings) -> bytes:
        """The PNG for ``settings`` (whose result is cached), drawn once and then kept."""
        full_key = tuple(sorted(settings.items()))
        if full_key not in self.png_cache:
            result = self.cache[self._key(settings)]
            try:
                if isinstance(self.plot_fn, PanelView):
                    if not self._view_ready:
                        self.fig.clear()
                        self.plot_fn.setup(self.fig)
                        self._view_ready = True
                    self.plot_fn.update(result, settings)
                else:
                    self.fig.clear()
                    set_margins(self.fig)
                    self.plot_fn(result, self.fig, settings)
                buf = io.BytesIO()
                self.fig.savefig(buf, format="png")
            except Exception:
                self._view_ready = False  # a half-updated figure is rebuilt for the next picture
                raise
            self.png_cache[full_key] = buf.getvalue()
        return self.png_cache[full_key]

    def update(self) -> None:
        """Fetch (or train) the result for the current settings and redraw. Errors become a status message."""
        settings = self.settings
        key = self._key(settings)
        label = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in key)
        t = time.perf_counter()
        self.last_error = None
        try:
            self.last_cached = key in self.cache
            if not self.last_cached:
                self._set_status(f"&#8987; training {html.escape(label)} ...")
                self.cache[key] = self.run_fn(**{k: v for k, v in settings.items() if k not in self.view_only})
            result = self.cache[key]
            self.image.value = self.picture(settings)
        except Exception as exc:  # noqa: BLE001 -- the panel reports, it never raises into the notebook
            self.last_seconds = time.perf_counter() - t
            self._show_error(exc)
            return
        self.last_seconds = time.perf_counter() - t
        bad = [h.stop_reason for h in _histories(result) if h.diverged]
        how = "from cache" if self.last_cached else "trained"
        if bad:
            self._set_status(f"&#9888; diverged (loss became NaN/inf): {html.escape(bad[0])}; try a smaller "
                             f"learning rate. [{html.escape(label)}]", "#b36b00")
        else:
            self._set_status(f"{html.escape(label)}: {how} in {self.last_seconds:.2f} s")

    def describe(self) -> str:
        """One line for viewers without a kernel: the title, the shown setting, and what to do to move it."""
        label = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.settings.items())
        what = f"{self.title_text}: " if self.title_text else ""
        state = f"; {self.last_error}" if self.last_error else ""
        return (f"regviz slider panel. {what}the picture shows {label}{state} "
                f"(run the notebook to move the sliders: {', '.join(self.controls)})")

    def __repr__(self) -> str:
        return self.describe()

    def _repr_mimebundle_(self, **kwargs) -> tuple[dict[str, Any], dict[str, Any]]:
        """The live widget view, plus a PNG of the current picture and a one-line ``text/plain``.

        JupyterLab, Notebook 7 and Colab render the widget view (their widget renderer outranks images);
        GitHub, nbviewer and exported HTML without a kernel show the PNG saved in the notebook. With
        ``REGVIZ_FRAMES=1`` the bundle also holds ``frames()`` under ``FRAMES_MIME``, which Jupyter ignores and
        the course website turns into static sliders.

        Returns:
            ``(data, metadata)`` as IPython expects; the metadata names Colab's widget manager when one
            is enabled, because Colab adds it only to ``display()`` output, not to a cell's last value.
        """
        view = getattr(self.widget, "_repr_mimebundle_", None)  # ipywidgets 8; 7 (Colab's) has none
        data = dict(view(**kwargs) or {}) if view else {}
        data.setdefault(WIDGET_VIEW, {"version_major": 2, "version_minor": 0, "model_id": self.widget.model_id})
        if self.png:
            data["image/png"] = base64.b64encode(self.png).decode("ascii")
        data["text/plain"] = re.sub(r"\s+", " ", self.describe())
        if os.environ.get(FRAMES_ENV) == "1":  # for the course website's static sliders (scripts/site.py)
            data[FRAMES_MIME] = self.frames()
        return data, _colab_metadata()

    def frames(self, *, max_frames: int = 400) -> dict[str, Any]:
        """Every cached setting drawn once, for a page without a kernel: ``regviz.frames.panel_frames``."""
        return panel_frames(self, max_frames=max_frames)

    def positions(self) -> dict[str, list]:
        """Every position of every slider (for tests that sweep the whole range)."""
        out = {}
        for name, w in self.controls.items():
            if hasattr(w, "options"):
                out[name] = [v for _, v in w.options] if w.options and isinstance(w.options[0], tuple) \
                    else list(w.options)
            elif hasattr(w, "min"):
                step = w.step or 1
                n = int(round((w.max - w.min) / step))
                out[name] = [w.min + i * step for i in range(n + 1)]
            else:
                out[name] = [w.value]
        return out
