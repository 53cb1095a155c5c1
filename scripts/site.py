"""Build the course website from the chapters' stored outputs, with static sliders; nothing is executed.

1. Each notebook is copied with its saved outputs. A slider panel saved with its frames
   (``application/vnd.regviz.frames+json``: the notebook ran with ``REGVIZ_FRAMES=1``) becomes a static panel:
   HTML sliders over the precomputed grid that swap embedded pictures (site/_static/static_sliders.js).
   A panel without frames shows its saved PNG. Other widget outputs (progress bars) are dropped.
2. Each page gets launch links to Binder and Colab, built from pyproject.toml's Repository URL.
3. Sphinx with MyST-NB (the stack Jupyter Book 1 builds on) writes the HTML, execution off.

Usage:
    python scripts/site.py                       # notebooks/0*.ipynb -> _build/html
    python scripts/site.py --notebooks DIR --out DIR
"""
from __future__ import annotations

import argparse
import html
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRAMES_MIME = "application/vnd.regviz.frames+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _colab_script():
    spec = importlib.util.spec_from_file_location("regviz_colab_script", ROOT / "scripts" / "colab.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def static_panel_html(spec: dict, fallback_png: str | None = None) -> str:
    """HTML for one static panel: a range input per control, the picture, and the frames as JSON."""
    frames = spec["frames"]
    start = "-".join(str(c["index"]) for c in spec["controls"])
    picture = frames.get(start) or fallback_png or next(iter(frames.values()), "")
    rows = []
    for c in spec["controls"]:
        n = len(c["labels"])
        rows.append(f'<label>{html.escape(c["description"])} <input type="range" class="regviz-static-slider" '
                    f'name="{html.escape(c["name"])}" min="0" max="{n - 1}" step="1" value="{c["index"]}" '
                    f'{"disabled " if n == 1 else ""}aria-label="{html.escape(c["description"])}">'
                    f'<span class="regviz-static-readout">{html.escape(c["labels"][c["index"]])}</span></label>')
    data = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")  # safe inside <script>
    return (f'<div class="regviz-static-panel">\n'
            f'<div class="regviz-static-title">{html.escape(spec.get("title") or "")}</div>\n'
            f'<div class="regviz-static-controls">{"".join(rows)}</div>\n'
            f'<div class="regviz-static-note"></div>\n'
            f'<img class="regviz-static-image" alt="{html.escape(spec.get("title") or "panel")}" '
            f'src="data:image/png;base64,{picture}">\n'
            f'<script type="application/json" class="regviz-frames">{data}</script>\n</div>')


def _static_outputs(outputs: list[dict]) -> list[dict]:
    """Outputs as a page without a kernel can show them."""
    kept = []
    for o in outputs:
        data = o.get("data", {})
        if FRAMES_MIME in data:
            png = "".join(data.get("image/png", "")) or None
            o = {**o, "data": {"text/html": static_panel_html(data[FRAMES_MIME], png),
                               "text/plain": data.get("text/plain", "")}}
        elif WIDGET_VIEW in data:
            rest = {k: v for k, v in data.items() if k not in (WIDGET_VIEW, "text/plain")}
            if not rest:
                continue  # a progress bar or another live-only widget
            o = {**o, "data": {**rest, "text/plain": data.get("text/plain", "")}}
        kept.append(o)
    return kept


def page_notebook(nb: dict, name: str, *, links: str) -> dict:
    """The notebook as the site shows it: static outputs, launch links under the title (instead of the Colab
    badge, an external image), no widget state, no nbval markers."""
    nb = json.loads(json.dumps(nb))
    nb["metadata"].pop("widgets", None)
    badge = _colab_script().BADGE_RE
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":  # the Colab badge is an external image: the launch links replace it
            cell["source"] = badge.sub("", "".join(cell["source"])).replace("\n\n\n", "\n\n")
        if cell["cell_type"] == "code":
            cell["outputs"] = _static_outputs(cell.get("outputs", []))
            lines = "".join(cell["source"]).splitlines(keepends=True)
            cell["source"] = "".join(ln for ln in lines if not ln.startswith("# NBVAL_"))  # test markers
    title = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown")
    nb["cells"].insert(title + 1, {"cell_type": "markdown", "metadata": {}, "source": links})
    return nb


def launch_links(name: str, pyproject: Path = ROOT / "pyproject.toml") -> str:
    colab = _colab_script()
    proj = colab.project(pyproject)
    repo, revision = colab.github_repo(proj["urls"]["Repository"]), f"v{proj['version']}"
    binder = f"https://mybinder.org/v2/gh/{repo}/{revision}?urlpath=lab/tree/notebooks/{name}"
    return (f"Run this chapter, sliders and all: [launch on Binder]({binder}) · "
            f"[open in Colab]({colab.colab_url(repo, revision, name)}). "
            f"On this page the sliders move across the settings the notebook precomputed.")


def build(notebooks: list[Path], out: Path, *, stage: Path | None = None) -> float:
    """Stage the site sources (in ``stage``, which is replaced, or a temporary folder) and run Sphinx; returns the
    seconds the build took."""
    if stage is None:
        with tempfile.TemporaryDirectory(prefix="regviz-site-") as tmp:
            return build(notebooks, out, stage=Path(tmp) / "src")
    t = time.perf_counter()
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(ROOT / "site", stage)
    titles = []
    for path in notebooks:
        nb = page_notebook(json.loads(path.read_text()), path.name, links=launch_links(path.name))
        (stage / path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False))
        titles.append(path.stem)
    index = (stage / "index.md").read_text().replace("{{chapters}}", "\n".join(titles))
    (stage / "index.md").write_text(index)
    r = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", str(stage), str(out)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"sphinx-build failed:\n{r.stdout}\n{r.stderr}")
    return time.perf_counter() - t


def page_bytes(out: Path, stem: str) -> int:
    """Bytes one chapter page loads: its HTML (frames inline) plus the images it references."""
    import re

    page = out / f"{stem}.html"
    text = page.read_text()
    images = set(re.findall(r'src="(_images/[^"]+)"', text))
    return len(text.encode()) + sum((out / src).stat().st_size for src in images)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    ap.add_argument("--out", type=Path, default=ROOT / "_build" / "html")
    args = ap.parse_args(argv)
    notebooks = sorted(args.notebooks.glob("0*.ipynb"))
    if not notebooks:
        ap.error(f"no chapter notebooks (0*.ipynb) in {args.notebooks}")
    seconds = build(notebooks, args.out)  # staged in a temporary folder: nothing beside --out is touched
    print(f"built {len(notebooks)} chapters into {args.out} in {seconds:.1f} s")
    for path in notebooks:
        print(f"  {path.stem}: {page_bytes(args.out, path.stem) / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
