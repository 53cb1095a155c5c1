"""One slider panel per chapter. Each module exposes ``panel(*, fast=False, device=None, seed=0) -> SliderPanel``.

``PANELS`` maps a chapter number to its module so tests and benchmarks can open every panel.
"""
from __future__ import annotations

import importlib

PANELS = {
    "01": "regviz.panels.overfitting",
    "02": "regviz.panels.weight_decay",
    "03": "regviz.panels.dropout",
    "04": "regviz.panels.label_smoothing",
    "05": "regviz.panels.augmentation",
    "06": "regviz.panels.early_stopping",
    "07": "regviz.panels.llm",
}


def open_panel(chapter: str, **kwargs):
    """Build chapter ``chapter``'s default panel (e.g. ``open_panel("01", fast=True)``)."""
    if chapter not in PANELS:
        raise ValueError(f"no panel for chapter {chapter!r}; chapters with panels: {', '.join(sorted(PANELS))}")
    return importlib.import_module(PANELS[chapter]).panel(**kwargs)
