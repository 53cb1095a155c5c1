"""The committed notebooks read well without a kernel: every slider panel's saved output holds a picture.

Checked on the saved .ipynb files (nothing is executed): GitHub, nbviewer and exported HTML show these outputs.
"""
import base64
import html
import json
import re
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


# --- progress bars (regviz.progress): a saved bar must show how the run ended, never a frozen "0/5" ---------------
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
METER = re.compile(r"(\d{1,3})%\|")  # tqdm's "{desc}: {percentage:3.0f}%|"
COUNT = re.compile(r"(?<![\d.])(\d+)/(\d+) \[")  # tqdm's "| {n}/{total} [{elapsed}<{remaining}, ...]"
SPACES = ("\u2007", "\xa0")  # tqdm's widget writes figure spaces for spaces


def _plain(text) -> str:
    text = "".join(text) if isinstance(text, list) else str(text)
    for ch in SPACES:
        text = text.replace(ch, " ")
    return html.unescape(text)


def unfinished_meter(text: str) -> str | None:
    """The first tqdm meter in ``text`` that is not at 100% (what a reader sees: after each line's last '\\r')."""
    for line in _plain(text).split("\n"):
        shown = line.split("\r")[-1]
        pct = METER.search(shown)
        count = COUNT.search(shown)
        if (pct and int(pct[1]) < 100) or (count and int(count[1]) < int(count[2])):
            return shown.strip()
    return None


def _shown_models(state: dict, model_id: str, seen: set) -> list[dict]:
    """The saved models a widget view shows: itself and its children, recursively."""
    if model_id in seen or model_id not in state:
        return []
    seen.add(model_id)
    found = [state[model_id]]
    for child in state[model_id]["state"].get("children", []) or []:
        found += _shown_models(state, child.removeprefix("IPY_MODEL_"), seen)
    return found


def _tqdm_widget(state: dict, box: dict) -> list[str]:
    """What a saved tqdm widget (a box holding a progress bar between two texts) shows short of its end."""
    kids = [state.get(c.removeprefix("IPY_MODEL_"), {}) for c in box["state"].get("children", []) or []]
    bars = [k["state"] for k in kids if k.get("model_name") in ("FloatProgressModel", "IntProgressModel")]
    if not bars:
        return []
    texts = [_plain(k["state"].get("value", "")) for k in kids if k.get("model_name") in ("HTMLModel", "LabelModel")]
    found = [f"progress widget at {b['value']:g} of {b['max']:g}" for b in bars if b.get("value", 0) < b.get("max", 0)]
    left = re.search(r"(\d{1,3})%\s*$", texts[0]) if texts else None
    if left and int(left[1]) < 100:
        found.append(texts[0].strip())
    found += [m for m in map(unfinished_meter, texts[1:]) if m]
    return found


def frozen_progress_bars(nb: dict) -> list[str]:
    """'cell N: text' for each saved progress bar a static view shows short of its end: a widget view's
    text/plain, the saved state of the tqdm widget it shows (bar value below max, or its texts), and any stream
    or text output (stderr bars)."""
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    found = []
    for i, cell in enumerate(nb["cells"]):
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            texts = [o.get("text", "")] if o.get("output_type") == "stream" else []
            texts.append(data.get("text/plain", ""))
            found += [f"cell {i}: {m}" for m in map(unfinished_meter, texts) if m]
            view = data.get(WIDGET_VIEW)
            for model in _shown_models(state, view.get("model_id", ""), set()) if view else []:
                found += [f"cell {i}: {m}" for m in _tqdm_widget(state, model)]
    return found


class TestProgressChecker:
    """The checker can fail: fed frozen bars, it names them; finished ones and final lines pass."""

    def _nb(self, outputs, state=None):
        meta = {"widgets": {WIDGET_STATE: {"state": state or {}, "version_major": 2, "version_minor": 0}}}
        return {"cells": [{"cell_type": "code", "outputs": outputs}], "metadata": meta}

    def test_widget_text_at_zero_is_caught(self):
        out = {"output_type": "display_data", "data": {WIDGET_VIEW: {"model_id": "a"},
                                                       "text/plain": "fit:   0%|          | 0/5 [00:00<?, ?epoch/s]"}}
        assert frozen_progress_bars(self._nb([out])) == ["cell 0: fit:   0%|          | 0/5 [00:00<?, ?epoch/s]"]

    def test_widget_state_short_of_its_end_is_caught(self):
        children = ["IPY_MODEL_l", "IPY_MODEL_p", "IPY_MODEL_r"]
        state = {"box": {"model_name": "HBoxModel", "state": {"children": children}},
                 "l": {"model_name": "HTMLModel", "state": {"value": "fit:\u2007\u200790%"}},
                 "p": {"model_name": "FloatProgressModel", "state": {"value": 60.0, "max": 60.0}},
                 "r": {"model_name": "HTMLModel", "state": {"value": "\u200754/60\u2007[00:00&lt;00:00]"}},
                 "orphan": {"model_name": "FloatProgressModel", "state": {"value": 1.0, "max": 9.0}}}
        out = {"output_type": "display_data", "data": {WIDGET_VIEW: {"model_id": "box"}, "text/plain": ""}}
        assert frozen_progress_bars(self._nb([out], state)) == ["cell 0: fit:  90%", "cell 0: 54/60 [00:00<00:00]"]

    def test_a_panel_status_with_a_percentage_passes(self):
        state = {"panel": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_t"]}},
                 "t": {"model_name": "HTMLModel", "state": {"value": "label noise 40%: 3/10 [cached]"}}}
        out = {"output_type": "display_data", "data": {WIDGET_VIEW: {"model_id": "panel"}, "text/plain": "panel"}}
        assert frozen_progress_bars(self._nb([out], state)) == []

    def test_stderr_bar_is_read_after_its_last_carriage_return(self):
        bar = "fit:   0%|  | 0/5 [00:00<?, ?it/s]\rfit: 100%|##| 5/5 [00:01<00:00, 4.1it/s]"
        assert frozen_progress_bars(self._nb([{"output_type": "stream", "name": "stderr", "text": bar}])) == []
        stuck = {"output_type": "stream", "name": "stderr", "text": bar.split("\r")[0] + "\n"}
        assert frozen_progress_bars(self._nb([stuck])) == ["cell 0: fit:   0%|  | 0/5 [00:00<?, ?it/s]"]

    def test_final_lines_pass(self):
        outs = [{"output_type": "display_data", "data": {"text/plain": "fit: 5/5 epochs, val_loss=1.351"}},
                {"output_type": "display_data", "data": {"text/plain": "fit: stopped after 3 of 5 epochs"}},
                {"output_type": "stream", "name": "stdout", "text": "accuracy 93% on 1/2 of the data\n"}]
        assert frozen_progress_bars(self._nb(outs)) == []


# Saved before regviz.progress existed (their bars kept tqdm's first text); strict: once a notebook is
# re-executed (`make execute`) and passes, its entry must go. 01's second bar (cell 17, "width sweep") comes from
# regviz/experiments/capacity.py, which still calls tqdm directly: it needs regviz.progress.progress_bar too.
AWAITING_RE_EXECUTION: dict[str, str] = {}


def _awaiting(p):
    reason = f"re-execute {p.name}: {AWAITING_RE_EXECUTION[p.name]}"
    return pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=reason))


@pytest.mark.parametrize("path", [_awaiting(p) if p.name in AWAITING_RE_EXECUTION else p for p in NOTEBOOKS],
                         ids=lambda p: p.name)
def test_no_frozen_progress_bar(path):
    """No saved progress bar short of 100%, in widget text, widget state or text output."""
    frozen = frozen_progress_bars(json.loads(path.read_text()))
    assert not frozen, f"{path.name}: frozen progress bars (re-execute it): {frozen}"
