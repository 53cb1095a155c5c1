"""The course website (scripts/site.py): static outputs, launch links, and static sliders that work in Chromium.

The site is built from a small notebook whose panel output comes from a real SliderPanel (frames included),
so the whole path runs: panel -> saved bundle -> Sphinx/MyST-NB page -> slider moved in the browser.
"""
import importlib.util
import json
from pathlib import Path

import pytest

import jupyter_helpers as jh  # tests/ is on sys.path (rootdir conftest, no __init__)
from regviz.history import History
from regviz.widgets import FRAMES_MIME, WIDGET_VIEW, SliderPanel, choice_slider

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = jh.find_chromium()


def _load(name):
    spec = importlib.util.spec_from_file_location(f"regviz_{name}_script", ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


site = _load("site")


def _toy_panel():
    """a in {1, 2, 3} precomputed at b=0 only; b=1 is never trained; 'shown' is view-only."""
    def run(a, b):
        return History(train_loss=[a / (i + 1) + b for i in range(5)], val_loss=[a * 1.2 / (i + 1) for i in range(5)],
                       train_acc=[0.5] * 5, val_acc=[0.4] * 5)

    def draw(result, fig, settings):
        fig.subplots().plot(result.truncated(settings["shown"]).val_loss)

    controls = {"a": choice_slider("a", [1, 2, 3]), "b": choice_slider("b", [0, 1]),
                "shown": choice_slider("shown", [2, 5], 5)}
    return SliderPanel(run, controls, draw, view_only=("shown",), title="Toy panel",
                       precompute=lambda: [({"a": a, "b": 0}, run(a, 0)) for a in (1, 2, 3)])


def _notebook(monkeypatch):
    from IPython.core.formatters import DisplayFormatter
    monkeypatch.setenv("REGVIZ_FRAMES", "1")
    data, _ = DisplayFormatter().format(_toy_panel())
    progress = {"output_type": "display_data", "metadata": {},
                "data": {WIDGET_VIEW: {"model_id": "x", "version_major": 2, "version_minor": 0},
                         "text/plain": "fit: 100%|##########| 5/5"}}
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# Chapter 9 — A toy\n\nSome prose."},
             {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "train()",
              "outputs": [progress]},
             {"cell_type": "code", "metadata": {}, "execution_count": 2, "source": "# NBVAL_IGNORE_OUTPUT\npanel = toy.panel()\npanel",
              "outputs": [{"output_type": "execute_result", "execution_count": 2, "metadata": {}, "data": data}]}]
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                        "language": "python"}, "widgets": {"state": {}}},
            "nbformat": 4, "nbformat_minor": 5}


class TestPage:
    """What scripts/site.py makes of a saved notebook, before Sphinx."""

    def test_frames_become_a_static_panel(self, monkeypatch):
        nb = _notebook(monkeypatch)
        frames = nb["cells"][2]["outputs"][0]["data"][FRAMES_MIME]
        # 3 precomputed a's x 2 view-only positions, keyed by slider indices (a, b, shown)
        assert sorted(frames["frames"]) == ["0-0-0", "0-0-1", "1-0-0", "1-0-1", "2-0-0", "2-0-1"]
        assert [c["index"] for c in frames["controls"]] == [0, 0, 1]
        page = site.page_notebook(nb, "09_toy.ipynb", links="LINKS")
        assert "widgets" not in page["metadata"]
        assert [c["source"] for c in page["cells"][:2]] == [nb["cells"][0]["source"], "LINKS"]
        assert page["cells"][2]["outputs"] == []  # the progress bar is live-only
        html = page["cells"][3]["outputs"][0]["data"]["text/html"]
        assert html.count('class="regviz-static-slider"') == 3 and frames["frames"]["0-0-1"] in html
        assert WIDGET_VIEW not in page["cells"][3]["outputs"][0]["data"]
        assert page["cells"][3]["source"] == "panel = toy.panel()\npanel"  # the nbval marker is for tests only

    def test_panel_without_frames_keeps_its_picture(self, monkeypatch):
        nb = _notebook(monkeypatch)
        nb["cells"][2]["outputs"][0]["data"].pop(FRAMES_MIME)
        out = site.page_notebook(nb, "09_toy.ipynb", links="")["cells"][3]["outputs"][0]["data"]
        assert set(out) == {"image/png", "text/plain"}

    def test_launch_links_follow_pyproject(self):
        colab = _load("colab")
        proj = colab.project()
        repo = colab.github_repo(proj["urls"]["Repository"])
        links = site.launch_links("03_dropout.ipynb")
        assert f"https://mybinder.org/v2/gh/{repo}/v{proj['version']}?urlpath=lab/tree/notebooks/03_dropout.ipynb" in links
        assert colab.colab_url(repo, f"v{proj['version']}", "03_dropout.ipynb") in links


@pytest.mark.browser
def test_static_slider_in_chromium(tmp_path, monkeypatch):
    """Build the site, move a static slider: the picture changes, an untrained setting says so, no console errors."""
    if CHROMIUM is None:
        pytest.skip("chromium not found: install Debian's package (apt-get install -y chromium, or "
                    "bash scripts/ensure-chromium.sh as root) to run the browser test")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    src = tmp_path / "notebooks"
    src.mkdir()
    (src / "09_toy.ipynb").write_text(json.dumps(_notebook(monkeypatch)))
    out = tmp_path / "html"
    site.build([src / "09_toy.ipynb"], out, stage=tmp_path / "stage")
    page_file = out / "09_toy.html"
    assert "regviz-static-panel" in page_file.read_text()
    with jh.chromium_context(CHROMIUM) as ctx:
        page = ctx.new_page()
        problems, external = [], []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else
                   (external.append(r.request.url), r.abort())[1])
        page.goto(page_file.as_uri())
        panel = page.locator(".regviz-static-panel")
        img, sliders = panel.locator("img.regviz-static-image"), panel.locator("input.regviz-static-slider")
        readouts = panel.locator(".regviz-static-readout")
        first = img.get_attribute("src")
        sliders.nth(0).focus()
        page.keyboard.press("ArrowRight")  # a: 1 -> 2, precomputed
        assert readouts.nth(0).text_content() == "2"
        second = img.get_attribute("src")
        assert second != first and panel.locator(".regviz-static-note").text_content() == ""
        sliders.nth(1).focus()
        page.keyboard.press("ArrowRight")  # b: 0 -> 1, never trained
        assert "not precomputed" in panel.locator(".regviz-static-note").text_content()
        assert img.get_attribute("src") == second  # the last picture stays, dimmed
        page.keyboard.press("ArrowLeft")
        sliders.nth(2).focus()
        page.keyboard.press("ArrowLeft")  # shown: 5 -> 2, a view-only position
        assert img.get_attribute("src") not in (first, second)
        assert problems == [] and external == []


@pytest.mark.browser
def test_chapter_page_in_chromium(tmp_path):
    """Chapter 03 as committed: its page's static p slider swaps the picture, with no console errors."""
    if CHROMIUM is None:
        pytest.skip("chromium not found: install Debian's package (apt-get install -y chromium, or "
                    "bash scripts/ensure-chromium.sh as root) to run the browser test")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    out = tmp_path / "html"
    site.build([ROOT / "notebooks" / "03_dropout.ipynb"], out, stage=tmp_path / "stage")
    with jh.chromium_context(CHROMIUM) as ctx:
        page = ctx.new_page()
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        page.goto((out / "03_dropout.html").as_uri())
        panel = page.locator(".regviz-static-panel")
        assert panel.count() == 1, "chapter 03's panel has no frames: re-execute it with REGVIZ_FRAMES=1"
        img = panel.locator("img.regviz-static-image")
        before = img.get_attribute("src")
        panel.locator("input.regviz-static-slider").first.focus()
        page.keyboard.press("ArrowLeft")  # p: 0.5 -> 0.3
        assert img.get_attribute("src") != before and panel.locator(".regviz-static-note").text_content() == ""
        assert problems == []
