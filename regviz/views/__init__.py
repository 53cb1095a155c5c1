"""One picture per chapter panel: a chapter reads ``experiments/X -> views/X -> panels/X``.

Each view is a ``PanelView``: ``setup(fig)`` builds its axes and artists once, ``update(result, settings)`` only
moves data, limits and texts, so a new picture costs one Agg draw instead of building a figure. Views draw
stored results; they never train and never touch widgets.
"""
from .base import PanelView

__all__ = ["PanelView"]
