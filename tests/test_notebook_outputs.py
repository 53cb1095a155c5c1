"""The committed notebooks read well without a kernel: every slider panel's saved output holds a picture.

Checked on the saved .ipynb files (nothing is executed): GitHub, nbviewer and exported HTML show these outputs.
"""
import base64
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
FRAMES_MIME = "application/vnd.regviz.frames+json"


def _panel_cells(path):
    cells = json.loads(path.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code" and ".panel(" in "".join(c["source"])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_panel_cell_saves_a_picture(path):
    """Each cell that opens a panel saved the widget view, a PNG of its default picture, and one line of text."""
    cells = _panel_cells(path)
    assert cells, f"{path.name} opens no slider panel"
    for cell in cells:
        src = "".join(cell["source"]).strip().splitlines()[-1]
        shown = [o["data"] for o in cell["outputs"] if WIDGET_VIEW in o.get("data", {})]
        assert shown, f"{path.name}: the cell ending {src!r} saved no panel output"
        for data in shown:
            assert "image/png" in data, f"{path.name}: the panel output of {src!r} has no image/png (re-execute it)"
            png = base64.b64decode("".join(data["image/png"]))
            assert png.startswith(b"\x89PNG") and len(png) > 1000
            text = "".join(data["text/plain"])
            assert "\n" not in text.strip() and not text.startswith("VBox("), text[:80]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_panel_cell_saves_its_frames(path):
    """Each panel saved its precomputed grid as frames (the website's static sliders): run with REGVIZ_FRAMES=1."""
    for cell in _panel_cells(path):
        for data in (o["data"] for o in cell["outputs"] if WIDGET_VIEW in o.get("data", {})):
            spec = data.get(FRAMES_MIME)
            assert spec, f"{path.name}: a panel output has no frames (re-execute with REGVIZ_FRAMES=1)"
            start = "-".join(str(c["index"]) for c in spec["controls"])
            assert start in spec["frames"], "the frames lack the setting the notebook shows"
            assert len(spec["frames"]) >= max(len(c["labels"]) for c in spec["controls"])
