"""Student copies: every solution block becomes a stub, outputs are cleared, the rest is unchanged.

Same convention as nbgrader's ClearSolutions preprocessor (Project Jupyter et al., JOSE 2019).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat

from .notebook import (BEGIN, END, chapter_notebooks, data_folders, find_exercises, resolve_chapter,
                       without_marker_mentions)

CODE_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
TEXT_STUB = ["YOUR ANSWER HERE"]


def clear_solutions(source: str, *, code: bool = True, where: str = "cell") -> str:
    """Replace every `### BEGIN SOLUTION` ... `### END SOLUTION` block (markers included) by a stub.

    Args:
        source: cell source.
        code: True for code cells (stub `# YOUR CODE HERE` + `raise NotImplementedError()` at the
            indentation of the BEGIN line), False for markdown (`YOUR ANSWER HERE`).
        where: name of the cell for error messages.
    Returns:
        The new source.
    Raises:
        ValueError: unbalanced or nested markers.
    """
    out: list[str] = []
    inside = False
    for line in source.split("\n"):
        s = line.strip()
        if s == BEGIN:
            if inside:
                raise ValueError(f"{where}: nested '{BEGIN}'")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + stub for stub in (CODE_STUB if code else TEXT_STUB))
        elif s == END:
            if not inside:
                raise ValueError(f"{where}: '{END}' without '{BEGIN}'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: '{BEGIN}' without '{END}'")
    return "\n".join(out)


def release_notebook(nb: nbformat.NotebookNode, *, chapter: str | None = None) -> nbformat.NotebookNode:
    """Student copy of a reference notebook (the input is not modified).

    Args:
        nb: reference notebook with solution blocks.
        chapter: chapter name stored in `metadata.regviz.chapter` so `grade` can tell which chapter a
            submission belongs to.
    Returns:
        A new notebook: solutions stubbed, outputs, execution counts and timing metadata cleared, and
        markdown lines that explain the solution markers replaced by one sentence about the check cells.
    """
    out = nbformat.from_dict(nb)
    for i, cell in enumerate(out.cells):
        if cell.cell_type in ("code", "markdown"):
            cell.source = clear_solutions(cell.source, code=cell.cell_type == "code", where=f"cell {i}")
        if cell.cell_type == "markdown":
            cell.source = without_marker_mentions(cell.source)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            for key in ("execution", "papermill", "collapsed", "scrolled"):
                cell.metadata.pop(key, None)
    out.metadata.pop("papermill", None)
    out.metadata.pop("widgets", None)  # saved widget state belongs to the outputs
    if chapter:
        out.metadata["regviz"] = {"chapter": chapter, "student_copy": True}
    return out


def release(src: str | Path, out: str | Path, *, chapters: list[str] | None = None) -> list[Path]:
    """Write student copies of the chapter notebooks in `src` to the folder `out`.

    The data folders next to the notebooks (`data_folders`: e.g. `results/`) are copied too, so relative paths
    the chapters read keep working; loose files (a grades CSV), hidden entries and checkpoints are not.

    Args:
        src: folder of reference notebooks (`NN_name.ipynb`), or one notebook file.
        out: output folder (created); must differ from the source folder.
        chapters: restrict to these chapters ('01', '1', '01_overfitting', 'overfitting').
    Returns:
        Paths of the written student notebooks.
    Raises:
        ValueError: missing folder, no notebooks, unknown chapter, out == src, or unbalanced markers.
    """
    src, out = Path(src), Path(out)
    if src.is_file() and src.suffix == ".ipynb":
        books, folder = [src], src.parent
    else:
        folder = src
        books = [resolve_chapter(c, src) for c in chapters] if chapters else chapter_notebooks(src)
        if not books:
            raise ValueError(f"no chapter notebooks (NN_name.ipynb) in {str(src)!r}")
    if out.resolve() == folder.resolve():
        raise ValueError(f"--out {str(out)!r} is the source folder; choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in books:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as e:  # noqa: BLE001 - any unreadable file is a bad argument here
            raise ValueError(f"{path}: not a readable notebook ({type(e).__name__}: {e})") from None
        if not find_exercises(nb):
            print(f"note: {path.name} has no exercises; copied with outputs cleared", file=sys.stderr)
        try:
            student = release_notebook(nb, chapter=path.stem)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        nbformat.write(student, out / path.name)
        written.append(out / path.name)
    for entry in data_folders(folder):
        shutil.copytree(entry, out / entry.name, dirs_exist_ok=True)
    return written
