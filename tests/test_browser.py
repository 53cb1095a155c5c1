"""End to end in a real browser: JupyterLab + Debian's Chromium (Playwright), every chapter's slider panel.

Chapter 01 runs as the real notebook (all cells); the other chapters open their default panel from a
two-cell notebook (fast). ``REGVIZ_BROWSER_NOTEBOOKS=all`` runs every chapter's real notebook instead;
``REGVIZ_BROWSER_CHAPTERS=01,03`` limits the chapters. Screenshots go to ``screenshots/`` (not committed).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from regviz.panels import PANELS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import lab_driver as jh  # noqa: E402  (scripts/lab_driver.py: JupyterLab + Chromium)

pytestmark = pytest.mark.browser

CHROMIUM = jh.find_chromium()
CHAPTERS = [c for c in os.environ.get("REGVIZ_BROWSER_CHAPTERS", ",".join(PANELS)).split(",") if c in PANELS]
REAL = set(PANELS) if os.environ.get("REGVIZ_BROWSER_NOTEBOOKS") == "all" else {"01"}
TIMEOUT = float(os.environ.get("REGVIZ_BROWSER_TIMEOUT", "900"))  # seconds per notebook (2 busy cores)


@pytest.fixture(scope="module")
def lab():
    if CHROMIUM is None:
        pytest.skip("chromium not found: install Debian's package (apt-get install -y chromium, or "
                    "bash scripts/ensure-chromium.sh as root) to run the browser test")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    with jh.jupyterlab(env={"REGVIZ_FAST": "1"}) as server:
        yield server


@pytest.fixture(scope="module")
def browser(lab):
    with jh.chromium_context(CHROMIUM) as ctx:
        yield ctx


def _notebook_for(lab, chapter: str) -> str:
    real = jh.chapter_notebook(chapter)
    if chapter in REAL and real is not None:
        return real.name
    return lab.add_notebook(f"panel_{chapter}.ipynb", jh.panel_notebook(chapter))


@pytest.mark.parametrize("chapter", CHAPTERS)
class TestChapterInBrowser:
    """Run the chapter, move every slider of every panel (keyboard and drag), see the plot change."""

    def test_sliders_redraw(self, lab, browser, chapter):
        """Each move changes the panel's image, shows the new value, and no error appears anywhere."""
        page = browser.new_page()
        page_errors: list[str] = []
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        try:
            name = _notebook_for(lab, chapter)
            jh.open_notebook(page, lab, name, timeout=TIMEOUT)
            jh.run_all(page, timeout=TIMEOUT, lab=lab)
            found = jh.panels(page)
            assert found.count() >= 1, f"{name}: no .regviz-panel after running all cells"
            for k in range(found.count()):
                panel = found.nth(k)
                assert jh.image_src(panel).startswith("blob:"), f"{name} panel {k}: no plot image"
                sl = jh.sliders(panel)
                assert sl.count() >= 1, f"{name} panel {k}: no sliders"
                for i in range(sl.count()):
                    slider = sl.nth(i)
                    start = jh.slider_state(slider)
                    key = "ArrowLeft" if start["index"] == start["max"] else "ArrowRight"
                    moved = jh.move_with_keyboard(page, panel, slider, key, timeout=TIMEOUT)
                    assert moved["state"]["index"] != start["index"], f"{name}: keyboard did not move {start}"
                    assert moved["state"]["readout"] != start["readout"]
                    assert "could not show" not in moved["status"], moved["status"]
                    back = jh.move_with_drag(page, panel, slider, start["index"], timeout=TIMEOUT)
                    assert back["state"]["index"] == start["index"], f"{name}: drag ended at {back['state']}"
                    assert back["state"]["readout"] == start["readout"]
                    assert "could not show" not in back["status"], back["status"]
                jh.screenshot(page, panel, f"chapter_{chapter}_panel_{k}.png")
            errors = jh.output_errors(page)
            assert not errors, f"{name}: error output after moving sliders:\n{errors[0][:3000]}"
            assert not page_errors, f"{name}: JavaScript errors in the page: {page_errors[:3]}"
        finally:
            page.close()
            lab.shutdown_kernels()
