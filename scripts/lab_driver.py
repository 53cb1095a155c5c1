"""Drive the course as a student meets it: JupyterLab on localhost, Debian's Chromium through Playwright.

Used by ``tests/test_browser.py``, ``tests/test_site.py`` and ``benchmarks/bench_sliders.py`` (a driver, not a
test helper: it lives in scripts/, on each one's import path). Nothing here downloads anything:
the browser is the system ``chromium`` (never ``playwright install``), and the server only listens on
127.0.0.1 with a random token, news and update checks switched off.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SCREENSHOTS = ROOT / "screenshots"

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# User settings written into a throw-away JUPYTERLAB_SETTINGS_DIR: no news / update pop-ups (they would
# also try to reach the internet), no autosave (the test never writes back), every cell attached to the DOM.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

# What counts as an error anywhere in a notebook's outputs.
ERROR_PATTERNS = re.compile(
    r"Traceback \(most recent call last\)|^\s*\w*(Error|Exception)\b.*:|Error displaying widget|"
    r"Error rendering|could not show this setting|Kernel (died|Restarting)|Model not found",
    re.MULTILINE)


def find_chromium() -> str | None:
    """Path of the system Chromium (Debian's ``chromium`` package), or None."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chapter_notebook(chapter: str) -> Path | None:
    """``notebooks/<chapter>_*.ipynb`` if it exists."""
    found = sorted(NOTEBOOKS.glob(f"{chapter}_*.ipynb"))
    return found[0] if found else None


def panel_notebook(chapter: str) -> nbformat.NotebookNode:
    """A two-cell notebook that only opens chapter ``chapter``'s default panel (fast mode from REGVIZ_FAST)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# Chapter {chapter}: default slider panel"),
        nbformat.v4.new_code_cell("import os\nfrom regviz.panels import open_panel\n\n"
                                  f"panel = open_panel({chapter!r}, fast=os.environ.get('REGVIZ_FAST') == '1')\n"
                                  "panel"),
    ]
    return nb


def _cleared(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    return nb


class Lab:
    """A running JupyterLab server (see :func:`jupyterlab`)."""

    def __init__(self, proc: subprocess.Popen, port: int, token: str, root: Path, log: Path):
        self.proc, self.port, self.token, self.root, self.log = proc, port, token, root, log
        self.base = f"http://127.0.0.1:{port}"

    def url(self, path: str) -> str:
        """URL opening ``path`` in its own empty workspace (no tabs restored from an earlier page)."""
        workspace = re.sub(r"[^A-Za-z0-9_-]", "-", path)
        return f"{self.base}/lab/workspaces/{workspace}/tree/{path}?reset&token={self.token}"

    def api(self, method: str, path: str):
        req = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Stop every kernel (frees the CPU before the next chapter)."""
        for s in self.api("GET", "sessions") or []:
            try:
                self.api("DELETE", f"sessions/{s['id']}")
            except OSError:
                pass

    def add_notebook(self, name: str, nb: nbformat.NotebookNode) -> str:
        nbformat.write(nb, self.root / name)
        return name


@contextmanager
def jupyterlab(*, env: dict[str, str] | None = None, startup_timeout: float = 120) -> Iterator[Lab]:
    """Start JupyterLab on a free localhost port, serving a throw-away copy of ``notebooks/``.

    The copy has its outputs cleared (so "all cells ran" is visible) and the repository's notebooks are
    never written. The server runs with ``--allow-root`` (CI runs as root), a random token, no browser,
    news/update checks off; it is stopped by its PID on exit.

    Args:
        env: extra environment for the server and its kernels (e.g. ``{"REGVIZ_FAST": "1"}``).
        startup_timeout: seconds to wait for ``/api/status``.

    Yields:
        A :class:`Lab` with ``url(path)``, ``api(...)``, ``add_notebook(...)`` and ``shutdown_kernels()``.
    """
    tmp = Path(tempfile.mkdtemp(prefix="regviz-lab-"))
    root = tmp / "notebooks"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
    for path in NOTEBOOKS.glob("*.ipynb"):
        nbformat.write(_cleared(path), root / path.name)
    settings = tmp / "lab-settings"
    for rel, value in LAB_SETTINGS.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(value))
    for d in ("workspaces", "config", "runtime", "data", "ipython"):
        (tmp / d).mkdir()
    port, token = free_port(), os.urandom(12).hex()
    full_env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings),
                "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"), "JUPYTER_CONFIG_DIR": str(tmp / "config"),
                "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "IPYTHONDIR": str(tmp / "ipython"),
                "PYTHONWARNINGS": "ignore::DeprecationWarning", **(env or {})}
    full_env.pop("MPLBACKEND", None)  # the kernel picks the inline backend itself
    cmd = [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", "--ServerApp.open_browser=False",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--ServerApp.terminals_enabled=False"]
    log = tmp / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    lab = Lab(proc, port, token, root, log)
    try:
        t0 = time.monotonic()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                lab.api("GET", "status")
                break
            except OSError:
                if time.monotonic() - t0 > startup_timeout:
                    raise RuntimeError(f"JupyterLab not answering after {startup_timeout} s:\n"
                                       f"{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield lab
    finally:
        try:
            lab.shutdown_kernels()
        except OSError:
            pass
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # by PID: the server shuts its kernels down
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def chromium_context(chromium: str, *, width: int = 1400, height: int = 1000):
    """A Playwright browser context on the system Chromium with a fresh user-data-dir."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="regviz-chromium-")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=chromium, headless=True,
                                                    args=CHROMIUM_ARGS, viewport={"width": width, "height": height})
        try:
            yield ctx
        finally:
            ctx.close()
            shutil.rmtree(profile, ignore_errors=True)


# -- notebook actions ---------------------------------------------------------------------------------

# Timestamps the page itself takes: the last slider release (pointerup / keydown on a handle) and the
# last change of each panel image's src. Latency = image change - release, both from performance.now().
_INSTRUMENT = """() => {
  if (window.__regviz) return;
  window.__regviz = {release: 0, changes: []};
  const rel = () => { window.__regviz.release = performance.now(); };
  document.addEventListener('pointerup', rel, true);
  document.addEventListener('keydown', rel, true);
  new MutationObserver(ms => {
    for (const m of ms) if (m.type === 'attributes' && m.attributeName === 'src' && m.target.tagName === 'IMG'
                            && m.target.closest('.regviz-panel'))
      window.__regviz.changes.push({t: performance.now(), src: m.target.src});
  }).observe(document.body, {attributes: true, subtree: true, attributeFilter: ['src']});
}"""


def open_notebook(page, lab: Lab, name: str, *, timeout: float = 120) -> None:
    """Open ``name`` in JupyterLab and wait until its kernel is idle."""
    page.goto(lab.url(name), wait_until="domcontentloaded", timeout=timeout * 1000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout * 1000)
    wait_kernel_idle(page, timeout)
    page.evaluate(_INSTRUMENT)


def wait_kernel_idle(page, timeout: float) -> None:
    """Wait until the status bar says the kernel is idle."""
    page.wait_for_function(
        "() => { const el = document.querySelector('.jp-StatusBar-TextItem[title*=\"Kernel\"], "
        "#jp-main-statusbar'); return el && /Idle/.test(el.textContent); }", timeout=timeout * 1000)


def _menu(page, top: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$")).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}")).first.click()


def output_errors(page) -> list[str]:
    """Texts of notebook outputs (and dialogs) that look like an error or a traceback."""
    texts = page.eval_on_selector_all(".jp-OutputArea-output, .jp-Dialog, .jp-Notification-Toast-error",
                                      "els => els.map(e => e.innerText)")
    return [t for t in texts if ERROR_PATTERNS.search(t)]


def run_all(page, *, timeout: float = 600, lab: Lab | None = None) -> float:
    """Run > Run All Cells; wait until every code cell has an execution number. Returns seconds taken.

    Raises:
        AssertionError: as soon as an output shows an error (run-all stops at a failing cell), or on timeout.
    """
    n_code = page.locator(".jp-CodeCell").count()
    t0 = time.monotonic()
    _menu(page, "Run", "Run All Cells")
    while True:
        prompts = page.eval_on_selector_all(".jp-CodeCell .jp-InputArea-prompt", "els => els.map(e => e.innerText)")
        done = sum(bool(re.search(r"\[\d+\]", p)) for p in prompts)
        errors = output_errors(page)
        assert not errors, f"error output while running all cells:\n{errors[0][:3000]}"
        if lab is not None and lab.proc.poll() is not None:
            raise AssertionError(f"JupyterLab server exited ({lab.proc.returncode}) while running; "
                                 f"log tail:\n{lab.log.read_text()[-1500:]}")
        bar = page.locator("#jp-main-statusbar").inner_text()
        assert not re.search(r"Dead|Unknown|No Kernel|Restarting", bar), f"kernel lost while running: {bar!r}"
        if done == n_code and not any("*" in p for p in prompts):
            break
        assert time.monotonic() - t0 < timeout, f"run-all not finished after {timeout} s ({done}/{n_code} cells)"
        time.sleep(1.0)
    wait_kernel_idle(page, timeout)
    return time.monotonic() - t0


def panels(page):
    """Locator of every slider panel on the page."""
    return page.locator(".regviz-panel")


def sliders(panel):
    """Locator of the sliders of one panel (ipywidgets 8: noUiSlider inside ``.widget-slider``)."""
    return panel.locator(".widget-slider")


def slider_state(slider) -> dict:
    """``{"label", "readout", "index", "count"}`` of a SelectionSlider as the page shows it."""
    return slider.evaluate("""el => {
      const h = el.querySelector('.noUi-handle');
      return {label: (el.querySelector('.widget-label') || {}).innerText || '',
              readout: (el.querySelector('.widget-readout') || {}).innerText || '',
              index: Math.round(Number(h.getAttribute('aria-valuenow'))),
              min: Math.round(Number(h.getAttribute('aria-valuemin'))),
              max: Math.round(Number(h.getAttribute('aria-valuemax')))}; }""")


def image_src(panel) -> str:
    return panel.locator("img").first.get_attribute("src") or ""


def status_text(panel) -> str:
    return panel.locator(".widget-html-content").nth(1).inner_text()


def _wait_redraw(page, panel, old_src: str, timeout: float) -> dict:
    """Wait for the panel image to change after a release and the status to settle; return timings."""
    img = panel.locator("img").first
    page.wait_for_function("([el, old]) => el.src !== old", arg=[img.element_handle(), old_src],
                           timeout=timeout * 1000, polling=20)
    t = page.evaluate("() => { const r = window.__regviz; const c = r.changes[r.changes.length - 1];"
                      " return {release: r.release, change: c ? c.t : performance.now()}; }")
    deadline = time.monotonic() + timeout
    status = status_text(panel)
    while "training" in status and time.monotonic() < deadline:  # image first, then the final status
        time.sleep(0.05)
        status = status_text(panel)
    return {"latency": (t["change"] - t["release"]) / 1000.0, "status": status}


def move_with_keyboard(page, panel, slider, key: str, *, timeout: float = 300) -> dict:
    """Focus the slider handle, press ``key`` (e.g. ``ArrowRight``), wait for the new picture."""
    old = image_src(panel)
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    handle.press(key)
    out = _wait_redraw(page, panel, old, timeout)
    return {**out, "how": "keyboard", "state": slider_state(slider)}


def move_with_drag(page, panel, slider, index: int, *, timeout: float = 300) -> dict:
    """Drag the slider handle with the mouse to position ``index``, release, wait for the new picture."""
    st = slider_state(slider)
    old = image_src(panel)
    handle = slider.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    hb = handle.bounding_box()
    tb = slider.locator(".noUi-base, .noUi-connects").first.bounding_box()
    frac = (index - st["min"]) / max(1, st["max"] - st["min"])
    x_to, y = tb["x"] + frac * tb["width"], hb["y"] + hb["height"] / 2
    x_from = hb["x"] + hb["width"] / 2
    page.mouse.move(x_from, y)
    page.mouse.down()
    for i in range(1, 9):  # a real drag: several moves, not a jump
        page.mouse.move(x_from + (x_to - x_from) * i / 8, y)
    page.mouse.up()
    out = _wait_redraw(page, panel, old, timeout)
    return {**out, "how": "drag", "state": slider_state(slider)}


def screenshot(page, locator, name: str) -> Path:
    """Save a screenshot of ``locator``'s notebook cell into ``screenshots/`` (not committed)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / name
    cell = locator.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' jp-Cell ')][1]")
    target = cell if cell.count() else locator
    target.scroll_into_view_if_needed()
    target.screenshot(path=str(path))
    return path
