"""Find exercises, solution blocks and chapters in course notebooks.

Markers follow nbgrader (Project Jupyter et al., "nbgrader: A Tool for Creating and Grading
Assignments in the Jupyter Notebook", JOSE 2019): `### BEGIN SOLUTION` / `### END SOLUTION`.
"""
from __future__ import annotations

import ast
import re
import symtable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
EXERCISE_RE = re.compile(r"^\s*#{2,4}\s*Exercise\s+(\d+)\s*[:.]?\s*(.*)$", re.MULTILINE)
CHECK_RE = re.compile(r"^\s*#\s*CHECK\s+exercise\s+(\d+)\b", re.IGNORECASE)
CHAPTER_RE = re.compile(r"^(\d\d)_(.+)$")


@dataclass
class Exercise:
    """One exercise: its number, title, answer cells and check cell (indices into nb.cells)."""

    number: int
    title: str = ""
    answer_cells: list[int] = field(default_factory=list)
    check_cell: int | None = None


def check_cell_exercise(source: str) -> int | None:
    """Exercise number of a check cell (first line `# CHECK exercise N`), else None."""
    first = source.lstrip("\n").split("\n", 1)[0]
    m = CHECK_RE.match(first)
    return int(m.group(1)) if m else None


def has_solution(source: str) -> bool:
    """True if the cell source holds a `### BEGIN SOLUTION` line."""
    return any(line.strip() == BEGIN for line in source.splitlines())


MARKER_NOTE = "Each exercise is followed by a check cell: run it to test your answer."


def without_marker_mentions(source: str) -> str:
    """Markdown source whose lines that mention the solution markers become MARKER_NOTE (once).

    Student copies need not explain the markers, and nbgrader refuses marker text outside solution cells.
    Lines that are a marker themselves (a solution block in markdown) are kept.
    """
    out, noted = [], False
    for line in source.split("\n"):
        if ("BEGIN SOLUTION" in line or "END SOLUTION" in line) and line.strip() not in (BEGIN, END):
            if not noted:
                out.append(MARKER_NOTE)
                noted = True
        else:
            out.append(line)
    return "\n".join(out)


def find_exercises(nb: nbformat.NotebookNode) -> list[Exercise]:
    """Exercises of a notebook, discovered from the markers (not from a fixed list).

    An exercise starts at a markdown `### Exercise N: title` heading; the code cells after it up to its
    `# CHECK exercise N` cell are its answer cells. A check cell without a heading still counts.

    Args:
        nb: a notebook (nbformat v4 node).
    Returns:
        Exercises sorted by number.
    """
    found: dict[int, Exercise] = {}
    current: Exercise | None = None
    for i, cell in enumerate(nb.cells):
        src = cell.get("source", "")
        if cell.cell_type == "markdown":
            m = EXERCISE_RE.search(src)
            if m:
                n = int(m.group(1))
                current = found.setdefault(n, Exercise(n))
                current.title = current.title or m.group(2).strip()
            continue
        if cell.cell_type != "code":
            continue
        n = check_cell_exercise(src)
        if n is not None:
            ex = found.setdefault(n, Exercise(n))
            if ex.check_cell is None:
                ex.check_cell = i
            current = None
        elif current is not None:
            current.answer_cells.append(i)
    return sorted(found.values(), key=lambda e: e.number)


def chapter_notebooks(folder: str | Path) -> list[Path]:
    """Chapter notebooks `NN_name.ipynb` in a folder, sorted by name.

    Raises:
        ValueError: the folder does not exist.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"notebook folder {str(folder)!r} does not exist")
    return sorted(p for p in folder.glob("*.ipynb") if CHAPTER_RE.match(p.stem))


def data_folders(folder: str | Path) -> list[Path]:
    """The chapters' data folders next to the notebooks (``results/`` ...): folders only, never loose files (a
    grades CSV an instructor keeps there), hidden folders or caches. Released with the student copies and copied
    into each grading kernel's folder, so relative paths keep working."""
    return sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


def resolve_chapter(chapter: str, folder: str | Path) -> Path:
    """Reference notebook for a chapter given as '1', '01', '01_overfitting' or 'overfitting'.

    Raises:
        ValueError: no chapter matches (the message lists the available ones).
    """
    books = chapter_notebooks(folder)
    key = str(chapter).strip().removesuffix(".ipynb")
    for p in books:
        num, name = CHAPTER_RE.match(p.stem).groups()
        if key in (p.stem, name) or (key.isdigit() and int(key) == int(num)):
            return p
    names = ", ".join(p.stem for p in books) or "none"
    raise ValueError(f"unknown chapter {chapter!r}; chapters in {str(folder)!r}: {names}")


def default_notebook_folder() -> Path:
    """The course's `notebooks/` folder: ./notebooks if present, else the one next to the regviz package."""
    here = Path.cwd() / "notebooks"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "notebooks"


# ---------------------------------------------------------------------------------------------------
# Slicing: the cells the exercises need, found by name analysis (used by `grade --quick` and the tests).

def _strip_magics(source: str) -> str:
    return "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _sure_binds(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement always binds (plain assignment, def, class, import)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and getattr(stmt, "value", None) is not None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def _defs_and_uses(source: str) -> tuple[set[str], set[str], set[str]] | None:
    """(names surely bound, names maybe bound, names read before being bound) of a cell; None if unparsable.

    Scopes come from `symtable`, so function parameters and comprehension variables are not reads
    of notebook globals. Statement by statement, a read counts unless an earlier statement of the
    cell bound the name (or, in a compound statement such as a for loop, the statement itself does).
    """
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError:
        return None
    sure: set[str] = set()
    maybe: set[str] = set()
    uses: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
            return None
        table = symtable.symtable(ast.unparse(stmt), "<cell>", "exec")
        loads, binds = set(), set()
        for sym in table.get_symbols():
            if sym.is_referenced():
                loads.add(sym.get_name())
            if sym.is_assigned() or sym.is_imported() or sym.is_namespace():
                binds.add(sym.get_name())
        stack = list(table.get_children())
        while stack:  # nested functions, lambdas, classes, comprehensions
            t = stack.pop()
            stack.extend(t.get_children())
            for sym in t.get_symbols():
                if sym.is_global() and sym.is_referenced():
                    loads.add(sym.get_name())
                if sym.is_declared_global() and sym.is_assigned():
                    binds.add(sym.get_name())
        new = loads - maybe
        if not isinstance(stmt, (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Return, ast.Delete,
                                 ast.Assert, ast.Raise, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            new -= binds  # for/while/if/with/try: names bound inside the statement are its own
        uses |= new
        maybe |= binds
        sure |= _sure_binds(stmt)
    return sure, maybe | sure, uses


def needed_cells(nb: nbformat.NotebookNode, targets: list[int]) -> list[int]:
    """Indices of the code cells that `targets` need, found by walking back through name definitions.

    A cell is kept when it is a target, is tagged `parameters`/`injected-parameters`, does not parse
    (magics are tolerated), or binds a name that a kept later cell reads. A name stays needed until an
    earlier cell binds it at top level; cells that only mutate it (`x += 1`, loops) are kept too.

    Args:
        nb: a notebook.
        targets: indices of cells that must run (e.g. every answer and check cell).
    Returns:
        Sorted cell indices, targets included.
    """
    keep = set(targets)
    needed: set[str] = set()
    for i in range(len(nb.cells) - 1, -1, -1):
        cell = nb.cells[i]
        if cell.cell_type != "code":
            continue
        info = _defs_and_uses(cell.source)
        tags = set(cell.get("metadata", {}).get("tags", []))
        if i in keep or info is None or tags & {"parameters", "injected-parameters"}:
            keep.add(i)
        elif info[1] & needed:
            keep.add(i)
        else:
            continue
        if info is not None:
            sure, _, uses = info
            needed = (needed - sure) | uses
    return sorted(keep)


def slice_notebook(nb: nbformat.NotebookNode, *, exercises: list[Exercise] | None = None) -> nbformat.NotebookNode:
    """Copy of `nb` keeping the markdown and only the code cells the exercises need (see needed_cells)."""
    exercises = find_exercises(nb) if exercises is None else exercises
    targets = [i for ex in exercises for i in ex.answer_cells + ([ex.check_cell] if ex.check_cell is not None else [])]
    keep = set(needed_cells(nb, targets))
    out = nbformat.from_dict(nb)
    out.cells = [c for i, c in enumerate(out.cells) if c.cell_type != "code" or i in keep]
    return out
