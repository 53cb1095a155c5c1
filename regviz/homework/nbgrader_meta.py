"""Add nbgrader cell metadata to the course notebooks, in place and idempotently.

nbgrader (Project Jupyter et al., JOSE 2019) needs every solution cell marked `solution`, every check
cell marked as an autograder test (`grade`, `locked`, `points`) and read-only cells `locked`; the
exercise statements are locked here. Only cell metadata changes, plus markdown lines that explain the
solution markers (nbgrader refuses marker text outside solution cells), which become one neutral
sentence. Outputs, sources of code cells and all other cells are untouched.

    python -m regviz.homework.nbgrader_meta notebooks/            # all chapters
    python -m regviz.homework.nbgrader_meta notebooks/01_overfitting.ipynb --check   # exit 1 if it would change
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from .notebook import EXERCISE_RE, chapter_notebooks, find_exercises, has_solution, without_marker_mentions

SCHEMA = 3


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
          points: int | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def add_metadata(nb: nbformat.NotebookNode, *, points: int = 1) -> nbformat.NotebookNode:
    """Copy of `nb` whose exercise cells carry nbgrader metadata.

    Args:
        nb: a course notebook with `### Exercise N` headings, solution blocks and `# CHECK exercise N` cells.
        points: points per check cell (one per exercise: the CSV of `grade` counts exercises passed).
    Returns:
        A new notebook: answer cells `solution`, check cells `grade` + `locked` + `points`, exercise
        statements `locked`; any other cell holding a solution block is marked `solution` too.
    """
    out = nbformat.from_dict(nb)
    roles: dict[int, dict] = {}
    for ex in find_exercises(out):
        for k, i in enumerate(ex.answer_cells):
            if has_solution(out.cells[i].source):
                roles[i] = _meta(f"ex{ex.number}-answer{'' if k == 0 else k + 1}", solution=True)
        if ex.check_cell is not None:
            roles[ex.check_cell] = _meta(f"ex{ex.number}-check", grade=True, locked=True, points=points)
    for i, cell in enumerate(out.cells):
        if cell.cell_type == "markdown":
            m = EXERCISE_RE.search(cell.source)
            if m and i not in roles:
                roles[i] = _meta(f"ex{m.group(1)}-task", locked=True)
            elif i not in roles:
                cell.source = without_marker_mentions(cell.source)
        if i not in roles and has_solution(cell.source):
            roles[i] = _meta(f"cell{i}-solution", solution=True)
    for i, cell in enumerate(out.cells):
        if i in roles:
            cell.metadata["nbgrader"] = roles[i]
        else:
            cell.metadata.pop("nbgrader", None)
    return out


def apply(paths: list[Path], *, check: bool = False) -> list[Path]:
    """Add the metadata to each notebook file in place (nbformat's own JSON layout, as Jupyter saves it).

    Returns:
        The files that changed (with check=True: that would change; nothing is written).
    """
    changed = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        nb = nbformat.reads(text, as_version=4)
        new = add_metadata(nb)
        if new == nb:
            continue
        changed.append(path)
        if not check:
            path.write_text(nbformat.writes(new) + ("\n" if text.endswith("\n") else ""), encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    """CLI: add the metadata to a folder of chapters or to single notebooks."""
    p = argparse.ArgumentParser(prog="python -m regviz.homework.nbgrader_meta", description=__doc__.split("\n")[0])
    p.add_argument("paths", nargs="+", help="chapter folder(s) or notebook(s)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook lacks the metadata")
    args = p.parse_args(argv)
    files = []
    for raw in args.paths:
        path = Path(raw)
        if path.is_dir():
            files += chapter_notebooks(path)
        elif path.suffix == ".ipynb" and path.is_file():
            files.append(path)
        else:
            print(f"{p.prog}: error: {raw!r} is not a notebook or a folder", file=sys.stderr)
            return 2
    changed = apply(files, check=args.check)
    for path in changed:
        print(("needs metadata: " if args.check else "updated: ") + str(path))
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
