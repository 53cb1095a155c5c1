"""The course website (scripts/site.py): static outputs, launch links, and static sliders that work in Chromium.

The site is built from a small notebook whose panel output comes from a real SliderPanel (frames included),
so the whole path runs: panel -> saved bundle -> Sphinx/MyST-NB page -> slider moved in the browser.
"""
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import lab_driver as jh  # noqa: E402  (scripts/lab_driver.py: JupyterLab + Chromium)
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


# --- the whole course site in Chromium, served from 127.0.0.1, every other address blocked -------------------------

NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
LOCAL_HOSTS = ("127.0.0.1", "localhost")

# Text a reader would see if MathJax had not run: TeX delimiters outside code, scripts and rendered maths.
_RAW_TEX = r"""() => {
  const skip = (el) => el.closest("pre, code, script, style, textarea, mjx-container, .regviz-static-panel");
  const walker = document.createTreeWalker(document.querySelector("main") || document.body, NodeFilter.SHOW_TEXT);
  const raw = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const tex = /\\\(|\\\[|\$\$|\\begin\{/;
    if (!skip(n.parentElement) && tex.test(n.textContent)) raw.push(n.textContent.trim().slice(0, 80));
  }
  const math = Array.from(document.querySelectorAll("main .math"));
  return {math: math.length, unrendered: math.filter((m) => !m.querySelector("mjx-container")).length,
          containers: document.querySelectorAll("main mjx-container").length, raw: raw};
}"""

# One static-slider move that lands on a precomputed frame: [panel, slider, key] or null.
_PRECOMPUTED_MOVE = """(panel) => {
  const spec = JSON.parse(panel.querySelector("script.regviz-frames").textContent);
  const inputs = Array.from(panel.querySelectorAll("input.regviz-static-slider"));
  const at = inputs.map((i) => Number(i.value));
  for (let k = 0; k < inputs.length; k++) {
    if (inputs[k].disabled) continue;
    for (const [step, key] of [[1, "ArrowRight"], [-1, "ArrowLeft"]]) {
      const v = at[k] + step;
      if (v < 0 || v > Number(inputs[k].max)) continue;
      const idx = at.slice(); idx[k] = v;
      if (spec.frames[idx.join("-")]) return [k, key];
    }
  }
  return null;
}"""


@pytest.fixture(scope="module")
def course_site(tmp_path_factory):
    """The whole course built once (scripts/site.py), served over HTTP on 127.0.0.1: (base URL, output folder)."""
    import functools
    import http.server
    import threading

    root = tmp_path_factory.mktemp("site")
    out = root / "html"
    site.build(NOTEBOOKS, out, stage=root / "stage")
    handler = functools.partial(type("Quiet", (http.server.SimpleHTTPRequestHandler,),
                                     {"log_message": lambda *a: None}), directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", out
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def site_browser():
    if CHROMIUM is None:
        pytest.skip("chromium not found: install Debian's package (apt-get install -y chromium, or "
                    "bash scripts/ensure-chromium.sh as root) to run the browser test")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    with jh.chromium_context(CHROMIUM) as ctx:
        yield ctx


def _offline_page(ctx):
    """A page whose requests to any address but this machine are aborted and recorded, with its console errors."""
    from urllib.parse import urlsplit

    page = ctx.new_page()
    seen = {"problems": [], "external": []}
    page.on("console", lambda m: seen["problems"].append(f"{m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: seen["problems"].append(f"pageerror: {e}"))

    def route(r):
        url = urlsplit(r.request.url)
        if url.scheme in ("data", "blob", "file") or url.hostname in LOCAL_HOSTS:
            return r.continue_()
        seen["external"].append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    return page, seen


def _maths_rendered(page) -> dict:
    page.wait_for_load_state("load")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    if page.evaluate("() => !!document.querySelector('main .math')"):
        try:  # MathJax typesets after load; without it (blocked CDN) the asserts below name the raw formulas
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
            page.evaluate("() => MathJax.startup.promise")
        except PlaywrightTimeout:
            pass
    return page.evaluate(_RAW_TEX)


@pytest.mark.browser
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_page_offline(course_site, site_browser, path):
    """Each chapter page with the network blocked: formulas rendered by the bundled MathJax, one static slider
    moved to a precomputed setting swaps the picture, the book theme's launch, download and prev/next links and
    outline are there, no console errors and no request leaves the machine."""
    base, out = course_site
    page, seen = _offline_page(site_browser)
    try:
        page.goto(f"{base}/{path.stem}.html")
        maths = _maths_rendered(page)
        markdown = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                           if c["cell_type"] == "markdown")
        has_maths = re.search(r"\$[^$\n]+\$", markdown) is not None  # chapters 02, 04, 05 (today)
        assert (maths["math"] > 0) == has_maths, f"{path.name}: formulas in the notebook, none on the page: {maths}"
        assert maths["containers"] >= maths["math"], f"{path.name}: MathJax drew fewer formulas than there are"
        assert maths["unrendered"] == 0 and maths["raw"] == [], f"{path.name}: formulas left as TeX: {maths}"

        panel = page.locator(".regviz-static-panel").first
        assert page.locator(".regviz-static-panel").count() >= 1, f"{path.name}: no static panel (frames missing?)"
        move = panel.evaluate(_PRECOMPUTED_MOVE)
        assert move, f"{path.name}: no slider of the panel reaches a precomputed neighbour"
        img, slider = panel.locator("img.regviz-static-image"), panel.locator("input.regviz-static-slider").nth(move[0])
        readout = panel.locator(".regviz-static-readout").nth(move[0])
        before, label = img.get_attribute("src"), readout.text_content()
        slider.focus()
        page.keyboard.press(move[1])
        assert readout.text_content() != label and img.get_attribute("src") != before, f"{path.name}: no new picture"
        assert panel.locator(".regviz-static-note").text_content() == ""

        colab, proj = _load("colab"), _load("colab").project()
        repo, tag = colab.github_repo(proj["urls"]["Repository"]), f"v{proj['version']}"
        hrefs = page.eval_on_selector_all(".dropdown-launch-buttons a", "els => els.map(e => e.href)")
        assert f"https://mybinder.org/v2/gh/{repo}/{tag}?urlpath=lab/tree/notebooks/{path.name}" in hrefs
        assert colab.colab_url(repo, tag, path.name) in hrefs
        download = page.eval_on_selector_all(".dropdown-download-buttons a", "els => els.map(e => e.href)")
        assert f"{base}/_sources/{path.name}" in download
        assert page.locator(".bd-sidebar-secondary .toc-entry a").count() >= 2, "no in-page outline"
        assert page.locator(".prev-next-area a").count() >= 1, "no previous/next links"
        title = _load("fix_titles").title_of(path)
        assert page.locator("main h1").first.text_content().strip().rstrip("#").strip() == title
        footer = " ".join(page.locator("footer.bd-footer-content").text_content().split())
        assert "Copyright 2026" in footer and "MIT licence" in footer, footer
        assert seen["external"] == [], f"{path.name}: requests left the machine: {seen['external'][:5]}"
        assert seen["problems"] == [], f"{path.name}: console: {seen['problems'][:5]}"
    finally:
        page.close()
    # the download button hands out the committed notebook itself (live widgets), not the page's static copy
    assert (out / "_sources" / path.name).read_bytes() == path.read_bytes()


@pytest.mark.browser
def test_index_page_offline(course_site, site_browser):
    """The overview: one entry per chapter, in the chapter-title form, with its line and its panel's picture."""
    base, _ = course_site
    page, seen = _offline_page(site_browser)
    try:
        page.goto(f"{base}/index.html")
        page.wait_for_load_state("load")
        lines, titles = site.chapter_lines(), _load("fix_titles")
        headings = [h.strip().rstrip("#").strip() for h in page.locator("article.bd-article h2").all_text_contents()]
        assert headings == [titles.title_of(p) for p in NOTEBOOKS]
        flat = lambda t: " ".join(t.replace("\u2019", "'").split())  # noqa: E731 (Sphinx's smart quotes)
        text = flat(page.locator("article.bd-article").text_content())
        missing = [p.stem for p in NOTEBOOKS if flat(lines[p.stem]) not in text]
        assert not missing, f"overview lines not on the index page: {missing}"
        widths = page.eval_on_selector_all("img.regviz-chapter-picture", "els => els.map(e => e.naturalWidth)")
        assert len(widths) == len(NOTEBOOKS) and min(widths) > 100, widths
        assert seen["external"] == [] and seen["problems"] == [], seen
    finally:
        page.close()


class TestSiteSources:
    """What the site is built from: one overview line per chapter, the copyright line, the chapter titles."""

    def test_every_chapter_has_an_overview_line(self):
        lines = site.chapter_lines()
        assert sorted(lines) == [p.stem for p in NOTEBOOKS] and all(len(v) > 40 for v in lines.values())

    def test_copyright_from_license_and_pyproject(self, tmp_path):
        settings = site.site_settings()
        assert settings["copyright"].startswith("2026. ") and "MIT licence" in settings["copyright"]
        assert settings["author"] == "the regviz course authors"
        (tmp_path / "LICENSE").write_text("MIT License\n\nno holder line\n")
        with pytest.raises(ValueError, match="Copyright"):
            site.site_settings(license_file=tmp_path / "LICENSE")

    def test_page_title_takes_the_chapter_form(self, monkeypatch):
        nb = _notebook(monkeypatch)
        nb["cells"][0]["source"] = "# Chapter 09: A toy\n\nSome prose."
        page = site.page_notebook(nb, "09_toy.ipynb", links="")
        assert page["cells"][0]["source"] == "# Chapter 9 — A toy\n\nSome prose."
