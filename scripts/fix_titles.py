"""One form of chapter title everywhere: ``# Chapter 1 — Overfitting and the generalisation gap``.

The number comes from the file name (``01_overfitting.ipynb`` -> 1, no leading zero), then a space, an em dash
and a space, then the chapter's own title as it stands after any old prefix ("Chapter 02 —", "Chapter 06:").
The website (scripts/site.py) and the README's chapter table use ``chapter_title`` too.

This script rewrites the first line of each notebook's first markdown cell and nothing else: outputs,
execution counts, metadata and the other cells stay as they are (nbformat reads and writes the file).

Usage:
    python scripts/fix_titles.py                 # notebooks/0*.ipynb, in place
    python scripts/fix_titles.py --check         # change nothing; exit 1 if a title is not in the form
    python scripts/fix_titles.py notebooks/03_dropout.ipynb
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DASH = "\u2014"
PREFIX = re.compile(r"^\s*(?:chapter|ch\.?)\s*0*(\d+)\s*(?:[\u2014\u2013:.-]+\s*)?", re.IGNORECASE)


def chapter_number(name: str) -> int:
    """1 for ``01_overfitting.ipynb``."""
    m = re.match(r"(\d+)_", Path(name).name)
    if not m:
        raise ValueError(f"{name!r}: a chapter notebook's name starts with its number, like 01_overfitting.ipynb")
    return int(m[1])


def chapter_title(heading: str, name: str) -> str:
    """``"Chapter N — Title"`` for a notebook ``name`` whose first heading is ``heading`` (with or without '#')."""
    text = heading.strip().lstrip("#").strip()
    number = chapter_number(name)
    m = PREFIX.match(text)
    if m and int(m[1]) != number:
        raise ValueError(f"{name}: its title says chapter {m[1]} ({heading!r}), its file name says {number}")
    rest = text[m.end():].strip() if m else text
    if not rest:
        raise ValueError(f"{name}: the title {heading!r} has no words after the chapter number")
    return f"Chapter {number} {DASH} {rest}"


def first_heading(nb) -> tuple[int, str]:
    """(cell index, first line) of the notebook's first markdown cell; ValueError if that line is no heading."""
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            line = source.split("\n", 1)[0]
            if not line.startswith("# "):
                raise ValueError(f"the first markdown cell starts with {line[:60]!r}, not a '# ' title")
            return i, line
    raise ValueError("no markdown cell")


def title_of(path: Path) -> str:
    """The chosen form of ``path``'s title, whatever the notebook says now."""
    import json

    _, line = first_heading(json.loads(Path(path).read_text()))
    return chapter_title(line, Path(path).name)


def fix(path: Path, *, check: bool = False) -> tuple[str, str]:
    """(old first line, new first line) of ``path``; written back unless ``check`` or already in the form."""
    import nbformat

    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    i, line = first_heading(nb)
    new = "# " + chapter_title(line, path.name)
    if new != line and not check:
        source = "".join(nb.cells[i].source)
        nb.cells[i].source = new + source[len(line):]
        nbformat.write(nb, path)
    return line, new


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/0*.ipynb")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a title is not in the form")
    args = ap.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("0*.ipynb"))
    stale = 0
    for path in paths:
        old, new = fix(path, check=args.check)
        if old != new:
            stale += 1
            print(f"{path.name}: {old!r} -> {new!r}" + (" (not written: --check)" if args.check else ""))
    print(f"{stale} of {len(paths)} titles {'out of form' if args.check else 'rewritten'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
