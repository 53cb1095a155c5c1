"""A slider panel as a page without a kernel sees it: every precomputed setting's picture, and the MIME types.

The course website (``scripts/site.py``) reads this file by its path, so it imports nothing from regviz and
nothing heavy at module level: the site build needs neither torch nor ipywidgets.
"""
from __future__ import annotations

import base64
import io
import itertools
from typing import Any, Protocol

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
FRAMES_MIME = "application/vnd.regviz.frames+json"  # every precomputed setting's picture, for a static page
FRAMES_ENV = "REGVIZ_FRAMES"  # "1": a displayed panel saves its frames too (slower: each frame is drawn)


class Panel(Protocol):
    """What ``panel_frames`` reads of a ``regviz.widgets.SliderPanel``."""

    title_text: str
    controls: dict[str, Any]
    view_only: set[str]
    cache: dict[tuple, Any]

    def positions(self) -> dict[str, list]: ...

    def picture(self, settings: dict[str, Any]) -> bytes: ...


def palette_png(png: bytes) -> bytes:
    """The same picture as an 8-bit palette PNG (about a third of the bytes for line plots)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256).save(buf, format="png", optimize=True)
    return buf.getvalue()


def _labels(widget, positions: list) -> list[str]:
    """A slider's position labels: its own option labels when it has them, else the values written out."""
    options = getattr(widget, "options", None)
    if options and isinstance(options[0], tuple):
        return [str(label) for label, _ in options]
    return [f"{v:g}" if isinstance(v, float) else str(v) for v in positions]


def panel_frames(panel: Panel, *, max_frames: int = 400) -> dict[str, Any]:
    """Every cached setting of ``panel`` drawn once: what a page without a kernel needs for static sliders.

    Each run setting whose result is cached (the precomputed grid, plus settings visited so far) is drawn
    at every position of the view-only controls. Pictures are palette PNGs (a third of the size; line
    plots lose nothing visible).

    Returns:
        ``{"title", "controls": [{"name", "description", "labels", "index"}], "frames": {"i-j-...": b64}}``:
        a frame's key lists the slider positions (indices, in control order); ``index`` is the position
        shown now, so the page opens on the same picture as the notebook.
    """
    positions = panel.positions()
    names = list(panel.controls)
    view = [n for n in names if n in panel.view_only]
    out: dict[str, str] = {}
    for key in list(panel.cache):
        run = dict(key)
        if any(run.get(n) not in positions[n] for n in names if n not in panel.view_only):
            continue  # an off-grid setting: no slider position shows it
        for combo in itertools.product(*(positions[n] for n in view)):
            settings = {**run, **dict(zip(view, combo))}
            name = "-".join(str(positions[n].index(settings[n])) for n in names)
            if len(out) >= max_frames:
                raise ValueError(f"more than max_frames={max_frames} frames; raise it or precompute less")
            try:
                out[name] = base64.b64encode(palette_png(panel.picture(settings))).decode("ascii")
            except Exception:  # noqa: BLE001 -- a setting that cannot be drawn gets no frame
                continue
    controls = [{"name": n, "description": getattr(w, "description", n) or n, "labels": _labels(w, positions[n]),
                 "index": positions[n].index(w.value) if w.value in positions[n] else 0}
                for n, w in panel.controls.items()]
    return {"title": panel.title_text, "controls": controls, "frames": out}
