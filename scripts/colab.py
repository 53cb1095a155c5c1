"""Open the course in Colab: a set-up block in each chapter's first code cell, and "Open in Colab" badges.

Everything is built from the one repository address in pyproject.toml (``[project.urls] Repository``):
- each notebook's first code cell starts with ``setup_code()``: on Colab only, and only when regviz is
  missing, it installs regviz from the repository at ``--revision``; it switches on Colab's widget manager
  and prints the device (regviz picks cuda first). Outside Colab it does nothing and prints nothing;
- each notebook's title cell and README's chapter table get a Colab badge, and README's Binder link is
  rebuilt from the same address.

Running it again changes nothing (the block sits between two marker lines, the badges are replaced).

Usage:
    python scripts/colab.py                          # notebooks/0*.ipynb and README.md
    python scripts/colab.py README.md                # only the README
    python scripts/colab.py --revision main --check  # exit 1 if anything would change
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "# --- Colab set-up (does nothing outside Google Colab) ---"
END = "# --- end of Colab set-up ---"
# What the course needs at run time beyond regviz, and that Colab's image lacks (installed without deps:
# their own dependencies are on Colab). Colab preinstalls the rest of pyproject's runtime dependencies;
# jupyterlab and papermill are for running Jupyter yourself and for grading, not for reading on Colab.
COLAB_EXTRAS = ("mnist1d",)
COLAB_PREINSTALLED = ("torch", "torchvision", "numpy", "matplotlib", "ipywidgets", "tqdm", "scikit-learn")
NOT_NEEDED_ON_COLAB = ("jupyterlab", "papermill", "dask", "distributed")  # dask: the homework grader only
BADGE_IMG = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")
BINDER_RE = re.compile(r"https://mybinder\.org/v2/gh/[^/\s)]+/[^/\s)]+/")


def package_version(init: Path = ROOT / "regviz" / "__init__.py") -> str:
    """``regviz.__version__``, read from the source (the one place the version is written; regviz not imported)."""
    import ast

    for node in ast.parse(init.read_text()).body:
        if (isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            return node.value.value
    raise ValueError(f"no __version__ = \"...\" line in {init}")


def project(pyproject: Path = ROOT / "pyproject.toml") -> dict:
    """The ``[project]`` table of ``pyproject``; a dynamic ``version`` is filled in from ``package_version()``."""
    import tomllib

    proj = tomllib.loads(pyproject.read_text())["project"]
    if "version" in proj.get("dynamic", []):
        proj["version"] = package_version()
    return proj


def github_repo(url: str) -> str:
    """``"owner/name"`` of a GitHub address; Colab and Binder open notebooks from GitHub only."""
    m = re.fullmatch(r"https://github\.com/([^/\s]+)/([^/\s]+?)(?:\.git)?/?", url)
    if not m:
        raise ValueError(f"repository URL {url!r} is not https://github.com/OWNER/NAME: set [project.urls] "
                         f"Repository in pyproject.toml")
    return f"{m[1]}/{m[2]}"


def install_source(url: str, revision: str) -> str:
    """What pip installs on Colab: the repository at ``revision`` (a tag, branch or commit)."""
    return f"git+{url.rstrip('/')}@{revision}"


def setup_code(source: str) -> str:
    """The set-up block that opens each chapter's first code cell (``source``: what pip installs)."""
    extras = "".join(f'"{m}", ' for m in COLAB_EXTRAS)
    return f'''{BEGIN}
import sys
if "google.colab" in sys.modules:
    import importlib, importlib.util, subprocess
    if importlib.util.find_spec("regviz") is None:  # regviz, and what Colab's image lacks
        missing = [m for m in ({extras.rstrip()}) if importlib.util.find_spec(m) is None]
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "{source}", *missing], check=True)
        importlib.invalidate_caches()
    from google.colab import output
    output.enable_custom_widget_manager()  # lets Colab draw the slider panels
    import regviz
    from regviz.data import find_fashion_mnist
    if find_fashion_mnist() is None:  # Colab has no Debian package: torchvision fetches FashionMNIST once (30 MB)
        find_fashion_mnist(download=True)
    _dev = regviz.default_device()
    print(f"Colab: regviz {{regviz.__version__}} on {{_dev}}"
          + ("" if _dev.type == "cuda" else " (for a GPU: Runtime > Change runtime type > T4 GPU)"))
{END}
'''


def colab_url(repo: str, revision: str, notebook: str) -> str:
    return f"https://colab.research.google.com/github/{repo}/blob/{revision}/notebooks/{notebook}"


def badge(repo: str, revision: str, notebook: str) -> str:
    return f"[![Open In Colab]({BADGE_IMG})]({colab_url(repo, revision, notebook)})"


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def update_notebook(nb: dict, name: str, *, repo: str, revision: str, source: str) -> dict:
    """A copy of ``nb`` with the set-up block atop its first code cell and a badge under its title."""
    nb = json.loads(json.dumps(nb))
    cells = nb["cells"]
    code = next(c for c in cells if c["cell_type"] == "code")
    src = "".join(code["source"])
    if BEGIN in src:  # replace the old block, whatever it held
        start, stop = src.index(BEGIN), src.index(END) + len(END)
        src = src[:start] + src[stop:].lstrip("\n")
    code["source"] = _lines(setup_code(source) + "\n" + src)
    title = next(c for c in cells if c["cell_type"] == "markdown")
    text = BADGE_RE.sub("", "".join(title["source"]))
    text = re.sub(r"\n{3,}", "\n\n", text)
    head, _, rest = text.partition("\n")
    if not head.startswith("#"):
        raise ValueError(f"{name}: the first markdown cell does not start with a title")
    title["source"] = _lines(f"{head}\n\n{badge(repo, revision, name)}\n\n{rest.lstrip(chr(10))}".rstrip("\n"))
    return nb


def _row(cols: list[str]) -> str:
    return "| " + " | ".join(cols) + " |\n"


def update_readme(text: str, *, repo: str, revision: str) -> str:
    """README with a Colab column in the chapter table and the Binder link pointing at ``repo``."""
    text = BINDER_RE.sub(f"https://mybinder.org/v2/gh/{repo}/", text)
    out, ncols = [], 0  # ncols > 0 while inside the chapter table
    for line in text.splitlines(keepends=True):
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        chapter = re.match(r"\| \d+ \| `(0\d_\w+\.ipynb)`", line)
        if line.startswith("| chapter | notebook |"):
            cols = [c for c in cols if c != "Colab"] + ["Colab"]
            ncols = len(cols)
            line = _row(cols)
        elif ncols and line.startswith("| ---"):
            line = "|" + " --- |" * ncols + "\n"
        elif ncols and chapter:
            line = _row([c for c in cols if not BADGE_RE.fullmatch(c)] + [badge(repo, revision, chapter[1])])
        elif not line.startswith("|"):
            ncols = 0
        out.append(line)
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", type=Path, help="notebooks and README files (default: the course's)")
    ap.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    ap.add_argument("--revision", help="tag, branch or commit to install and open (default: v<version>)")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is out of date")
    args = ap.parse_args(argv)
    proj = project(args.pyproject)
    url = proj.get("urls", {}).get("Repository")
    if not url:
        ap.error(f"no [project.urls] Repository in {args.pyproject}")
    repo, revision = github_repo(url), args.revision or f"v{proj['version']}"
    source = install_source(url, revision)
    paths = args.paths or [*sorted((ROOT / "notebooks").glob("0*.ipynb")), ROOT / "README.md"]
    stale = []
    for path in paths:
        old = path.read_text()
        if path.suffix == ".ipynb":
            nb = update_notebook(json.loads(old), path.name, repo=repo, revision=revision, source=source)
            new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"  # the layout Jupyter saves
        else:
            new = update_readme(old, repo=repo, revision=revision)
        if new != old:
            stale.append(path)
            if not args.check:
                path.write_text(new)
    verb = "out of date" if args.check else "updated"
    print(f"{len(stale)} of {len(paths)} files {verb}" + "".join(f"\n  {p}" for p in stale))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
