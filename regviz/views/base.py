"""The protocol of a chapter panel's picture: build the figure once, then only move data per picture."""
from __future__ import annotations

from typing import Any, Mapping

from matplotlib.figure import Figure


class PanelView:
    """A chapter panel's picture, drawn in two steps so that a new picture only moves data.

    ``setup(fig)`` builds the axes and artists once; ``update(result, settings)`` sets line data, bar heights,
    limits and texts from a stored result (``settings``: every slider, view-only ones included). The panel
    (``regviz.widgets.SliderPanel``) calls ``setup`` once and ``update`` per picture, then saves a PNG; after an
    error in ``update`` it clears the figure and calls ``setup`` again.
    """

    def setup(self, fig: Figure) -> None:
        raise NotImplementedError

    def update(self, result: Any, settings: Mapping[str, Any]) -> None:
        raise NotImplementedError
