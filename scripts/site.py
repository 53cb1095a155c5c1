"""Build the course website from the chapters' stored outputs, with static sliders; nothing is executed.

1. Each notebook is copied with its saved outputs. A slider panel saved with its frames
   (``application/vnd.regviz.frames+json``: the notebook ran with ``REGVIZ_FRAMES=1``) becomes a static panel:
   HTML sliders over the precomputed grid that swap embedded pictures (site/_static/static_sliders.js).
   A panel without frames shows its saved PNG. Other widget outputs (progress bars) are dropped.
2. Each page's title takes the one chapter-title form (scripts/fix_titles.py: "Chapter 1 — ..."), and a line
   under it links to Binder and Colab, built from pyproject.toml's Repository URL (the theme's launch buttons
   use the same address and tag).
3. The index page: one line per chapter (site/chapters.toml: what its panel shows) with its panel's picture.
4. Sphinx with MyST-NB and sphinx-book-theme (Jupyter Book's stack) writes the HTML, execution off; MathJax is
   bundled (sphinx-mathjax-offline), so the pages load nothing from the network. The download button hands out
   the committed notebook itself (copied into _sources/ after the build).

Usage:
    python scripts/site.py                       # notebooks/0*.ipynb -> _build/html
    python scripts/site.py --notebooks DIR --out DIR
"""
from __future__ import annotations

import argparse
import base64
import html
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    """A module from its file, without importing the package around it (regviz's face would import torch)."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _script(name: str):
    return _load(f"regviz_{name}_script", ROOT / "scripts" / f"{name}.py")


_FRAMES = _load("regviz_frames_for_site", ROOT / "regviz" / "frames.py")  # the MIME types a saved panel uses
FRAMES_MIME, WIDGET_VIEW = _FRAMES.FRAMES_MIME, _FRAMES.WIDGET_VIEW


def _colab_script():
    return _script("colab")


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
    """The notebook as the site shows it: the title in the chapter form, static outputs, launch links under the
    title (instead of the Colab badge, an external image), no widget state, no nbval markers."""
    nb = json.loads(json.dumps(nb))
    nb["metadata"].pop("widgets", None)
    badge = _colab_script().BADGE_RE
    titles = _script("fix_titles")
    first, line = titles.first_heading(nb)
    source = "".join(nb["cells"][first]["source"])
    nb["cells"][first]["source"] = "# " + titles.chapter_title(line, name) + source[len(line):]
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":  # the Colab badge is an external image: the launch links replace it
            cell["source"] = badge.sub("", "".join(cell["source"])).replace("\n\n\n", "\n\n")
        if cell["cell_type"] == "code":
            cell["outputs"] = _static_outputs(cell.get("outputs", []))
            lines = "".join(cell["source"]).splitlines(keepends=True)
            cell["source"] = "".join(ln for ln in lines if not ln.startswith("# NBVAL_"))  # test markers
    title = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown")
    cell = {"cell_type": "markdown", "metadata": {}, "source": links}
    if (nb["nbformat"], nb.get("nbformat_minor", 0)) >= (4, 5):
        cell["id"] = "regviz-launch-links"  # cell ids are required from nbformat 4.5 on
    nb["cells"].insert(title + 1, cell)
    return nb


def launch_links(name: str, pyproject: Path = ROOT / "pyproject.toml") -> str:
    colab = _colab_script()
    proj = colab.project(pyproject)
    repo, revision = colab.github_repo(proj["urls"]["Repository"]), f"v{proj['version']}"
    binder = f"https://mybinder.org/v2/gh/{repo}/{revision}?urlpath=lab/tree/notebooks/{name}"
    return (f"Run this chapter, sliders and all: [launch on Binder]({binder}) · "
            f"[open in Colab]({colab.colab_url(repo, revision, name)}). "
            f"On this page the sliders move across the settings the notebook precomputed.")


def site_settings(pyproject: Path = ROOT / "pyproject.toml", license_file: Path = ROOT / "LICENSE") -> dict:
    """What site/conf.py reads from ``_site.json``: the repository address and tag, the author, and a copyright
    line ("2026. Code and notebooks under the MIT licence ...") from LICENSE's copyright line and pyproject's
    licence. The theme's footer reads "By <author> © Copyright <that line>"."""
    import re

    colab = _colab_script()
    proj = colab.project(pyproject)
    url = proj["urls"]["Repository"]
    colab.github_repo(url)  # ValueError unless a GitHub address: Binder and Colab need one
    m = re.search(r"^Copyright \(c\) (\d{4}(?:-\d{4})?) (.+)$", license_file.read_text(), re.M)
    if not m:
        raise ValueError(f"{license_file}: no 'Copyright (c) YEAR HOLDER' line")
    licence = proj.get("license", {})
    licence = licence.get("text", "") if isinstance(licence, dict) else str(licence)
    if not licence:
        raise ValueError(f"{pyproject}: no [project] license")
    return {"repository_url": url, "revision": f"v{proj['version']}", "author": m[2],
            "copyright": f"{m[1]}. Code and notebooks under the {licence} licence (see LICENSE)"}


def chapter_lines(path: Path = ROOT / "site" / "chapters.toml") -> dict[str, str]:
    """{notebook stem: the overview line saying what its chapter shows}."""
    return {stem: entry["see"] for stem, entry in tomllib.loads(path.read_text()).items()}


def panel_picture(nb: dict) -> bytes | None:
    """The PNG a notebook's first slider panel saved (its default setting), or None."""
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if WIDGET_VIEW in data and "image/png" in data:  # a widget saved with a picture: a slider panel
                return base64.b64decode("".join(data["image/png"]))
    return None


def index_entry(title: str, stem: str, line: str, picture: str | None) -> str:
    """One chapter on the overview page: its title as a link, what it shows, its panel's picture."""
    entry = f"## [{title}]({stem}.ipynb)\n\n{line}\n"
    if picture:
        entry += (f"\n```{{image}} {picture}\n:alt: the slider panel of {title}, at its default setting\n"
                  f":class: regviz-chapter-picture\n:target: {stem}.html\n```\n")
    return entry


def build(notebooks: list[Path], out: Path, *, stage: Path | None = None) -> float:
    """Stage the site sources (in ``stage``, which is replaced, or a temporary folder) and run Sphinx; returns the
    seconds the build took."""
    if stage is None:
        with tempfile.TemporaryDirectory(prefix="regviz-site-") as tmp:
            return build(notebooks, out, stage=Path(tmp) / "src")
    t = time.perf_counter()
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(ROOT / "site", stage)
    (stage / "_site.json").write_text(json.dumps(site_settings()))
    lines, entries, titles = chapter_lines(), [], _script("fix_titles")
    (stage / "_chapters").mkdir()
    for path in notebooks:
        saved = json.loads(path.read_text())
        nb = page_notebook(saved, path.name, links=launch_links(path.name))
        (stage / path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False))
        png, picture = panel_picture(saved), None
        if png:
            picture = f"_chapters/{path.stem}.png"
            (stage / picture).write_bytes(png)
        title = titles.chapter_title(titles.first_heading(saved)[1], path.name)
        entries.append(index_entry(title, path.stem, lines.get(path.stem, ""), picture))
    index = (stage / "index.md").read_text().replace("{{chapters}}", "\n".join(entries))
    (stage / "index.md").write_text(index.replace("{{toctree}}", "\n".join(p.stem for p in notebooks)))
    r = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", str(stage), str(out)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"sphinx-build failed:\n{r.stdout}\n{r.stderr}")
    if r.stderr.strip():
        print(f"sphinx-build warnings:\n{r.stderr}", file=sys.stderr)
    for path in notebooks:  # the download button: the committed notebook (live widgets), not the page's copy
        shutil.copy(path, out / "_sources" / path.name)
    return time.perf_counter() - t


def page_bytes(out: Path, stem: str, *, assets: bool = False) -> int:
    """Bytes one chapter page loads: its HTML (frames inline) plus the images it references; with ``assets``, also
    the theme's and MathJax's scripts and style sheets it links (cached across pages; MathJax's fonts not counted)."""
    import re

    page = out / f"{stem}.html"
    text = page.read_text()
    files = set(re.findall(r'src="(_images/[^"]+)"', text))
    if assets:
        links = re.findall(r'<(?:script[^>]*\ssrc|link[^>]*rel="stylesheet"[^>]*\shref)="(_static/[^"?]+)', text)
        files |= set(links)
    return len(text.encode()) + sum((out / src).stat().st_size for src in files)


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
        print(f"  {path.stem}: {page_bytes(args.out, path.stem) / 1e6:.2f} MB "
              f"({page_bytes(args.out, path.stem, assets=True) / 1e6:.2f} MB with the theme's scripts and styles)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
