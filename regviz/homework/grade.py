"""Autograde submissions: run each notebook in its own kernel (papermill, FAST=True), read the checks.

Check cells are restored from the reference notebook (as nbgrader does for its locked test cells,
Project Jupyter et al., JOSE 2019), so editing or weakening a check does not change a mark.
"""
from __future__ import annotations

import csv
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .notebook import check_number, default_notebook_folder, find_exercises, resolve_chapter, slice_notebook

ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Grade:
    """One graded submission: pass/fail and a message per exercise number, and a notebook-level note."""

    student: str
    passed: dict[int, bool] = field(default_factory=dict)
    messages: dict[int, str] = field(default_factory=dict)
    note: str = ""
    seconds: float = 0.0

    @property
    def total(self) -> int:
        """Number of exercises passed."""
        return sum(self.passed.values())


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(ANSI_RE.sub("", str(text)).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error_of(cell: nbformat.NotebookNode) -> str | None:
    """'EName: value' of the first error output of a cell, or None."""
    for o in cell.get("outputs", []):
        if o.get("output_type") == "error" and o.get("ename") == "KeyboardInterrupt":
            return "TimeoutError: cell over the per-cell time limit (interrupted)"
        if o.get("output_type") == "error":
            return _short(f"{o.get('ename', 'Error')}: {o.get('evalue', '')}".rstrip(": "))
    return None


def _stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def prepare_submission(sub: nbformat.NotebookNode, ref: nbformat.NotebookNode, token: str) -> tuple[nbformat.NotebookNode, list[int]]:
    """Grading copy of a submission: check cells replaced by the reference's, each ending with a pass token.

    Args:
        sub: the student's notebook.
        ref: the reference notebook.
        token: random string printed by a check cell that ran to the end.
    Returns:
        (notebook, exercise numbers whose check cell is missing from the submission).
    """
    ref_checks = {e.number: ref.cells[e.check_cell].source for e in find_exercises(ref) if e.check_cell is not None}
    nb = nbformat.from_dict(sub)
    seen = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        n = check_number(cell.source)
        if n in ref_checks and n not in seen:
            seen.add(n)
            cell.source = ref_checks[n].rstrip() + f"\nprint({token!r})"
    return nb, sorted(set(ref_checks) - seen)


def read_results(nb: nbformat.NotebookNode, numbers: list[int], token: str, missing: list[int]) -> tuple[dict, dict]:
    """Pass/fail and message per exercise from an executed grading copy.

    A check passes when its cell printed the token and shows no error. A failing check reports its
    error; when an answer cell of the exercise raised first, that error leads the message.
    """
    passed, messages = {}, {}
    exercises = {e.number: e for e in find_exercises(nb)}
    for n in numbers:
        ex = exercises.get(n)
        if n in missing or ex is None or ex.check_cell is None:
            passed[n], messages[n] = False, "check cell missing from the submission"
            continue
        check = nb.cells[ex.check_cell]
        err = _error_of(check)
        ok = err is None and token in _stdout(check)
        passed[n] = ok
        if ok:
            messages[n] = ""
            continue
        if err is None:
            secs = check.get("metadata", {}).get("papermill", {}).get("duration")
            err = "check did not run" if secs is None else "check did not finish (time limit or kernel stopped)"
        answer_errs = [e for e in (_error_of(nb.cells[i]) for i in ex.answer_cells) if e]
        messages[n] = _short(f"answer: {answer_errs[0]} | check: {err}" if answer_errs else err)
    return passed, messages


def _children() -> set[int]:
    import psutil  # installed with ipykernel

    return {c.pid for c in psutil.Process().children(recursive=True)}


def _kill_new_children(before: set[int]) -> None:
    """Kill the child processes started since `before` (the kernel) when a notebook exceeds its total time."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        if child.pid not in before:
            try:
                child.kill()
            except psutil.Error:
                pass


def grade_notebook(
    path: str | Path,
    reference: str | Path,
    *,
    student: str | None = None,
    timeout: int = 300,
    total_timeout: int = 1800,
    quick: bool = False,
    kernel_name: str = "python3",
    parameters: dict | None = None,
    keep: str | Path | None = None,
    threads: int | None = None,
) -> Grade:
    """Execute one submission in a fresh kernel and grade its exercises; never raises for a bad notebook.

    Args:
        path: the submitted .ipynb.
        reference: the chapter's reference notebook (defines the exercises and the check cells); the
            kernel runs in a scratch folder that links the reference folder's other files (e.g. results/).
        student: row name (default: file stem).
        timeout: seconds per cell; a cell over it is interrupted and the next cells still run.
        total_timeout: seconds for the whole notebook; past it the kernel is killed.
        quick: run only the cells the exercises need (name analysis, see notebook.needed_cells).
        kernel_name: Jupyter kernel to run.
        parameters: papermill parameters (default {"FAST": True}).
        keep: folder to write the executed grading copy to (feedback for students).
        threads: OMP/torch threads for the kernel.
    Returns:
        A Grade with one entry per exercise of the reference.
    """
    import papermill as pm

    path, reference = Path(path), Path(reference)
    grade = Grade(student or path.stem)
    start = time.monotonic()
    ref = nbformat.read(reference, as_version=4)
    numbers = [e.number for e in find_exercises(ref)]
    token = f"regviz-check-passed-{uuid.uuid4().hex}"

    def fail_all(note: str) -> Grade:
        grade.note = _short(note)
        for n in numbers:
            grade.passed[n], grade.messages[n] = False, "not graded"
        grade.seconds = time.monotonic() - start
        return grade

    try:
        sub = nbformat.read(path, as_version=4)
        if not isinstance(sub.get("cells"), list):
            raise ValueError("no cells")
    except Exception as e:  # noqa: BLE001 - any unreadable file is a row, not a crash
        return fail_all(f"not a readable notebook ({type(e).__name__}: {e})")
    nb, missing = prepare_submission(sub, ref, token)
    chapter = sub.metadata.get("regviz", {}).get("chapter")
    notes = [f"notebook says chapter {chapter}, graded as {reference.stem}"] if chapter and chapter != reference.stem else []
    if quick:
        nb = slice_notebook(nb)

    workdir = Path(tempfile.mkdtemp(prefix="regviz-grade-"))
    for entry in reference.parent.iterdir():  # copies of the chapter's relative files (results/ ...)
        if entry.suffix != ".ipynb" and not entry.name.startswith((".", "__")):
            if entry.is_dir():
                shutil.copytree(entry, workdir / entry.name)
            else:
                shutil.copy2(entry, workdir / entry.name)
    out_path = (Path(keep) / f"{grade.student}.ipynb") if keep else workdir / "executed.ipynb"
    out_path.parent.mkdir(parents=True, exist_ok=True)

    env = {"REGVIZ_FAST": "1", "MPLBACKEND": "agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    logging.getLogger("papermill").setLevel(logging.ERROR)
    timer = threading.Timer(total_timeout, _kill_new_children, args=(_children(),))
    timer.daemon = True
    timer.start()
    executed = None
    try:
        executed = pm.execute_notebook(
            nb, str(out_path), parameters={"FAST": True} if parameters is None else parameters,
            kernel_name=kernel_name, cwd=str(workdir), progress_bar=False, log_output=False,
            execution_timeout=timeout, allow_errors=True, interrupt_on_timeout=True,
            error_on_timeout={"ename": "TimeoutError", "evalue": f"cell exceeded the {timeout} s time limit", "traceback": []},
            raise_on_iopub_timeout=False,
        )
    except Exception as e:  # noqa: BLE001 - papermill raises for any error cell; results are in the file
        name = type(e).__name__
        if name != "PapermillExecutionError":
            timed_out = time.monotonic() - start >= total_timeout
            notes.append(f"notebook over its {total_timeout} s limit, kernel stopped" if timed_out else f"execution stopped: {name}: {e}")
    finally:
        timer.cancel()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if executed is None:
        try:
            executed = nbformat.read(out_path, as_version=4)
        except Exception:  # noqa: BLE001
            executed = nb
    shutil.rmtree(workdir, ignore_errors=True)
    grade.passed, grade.messages = read_results(executed, numbers, token, missing)
    grade.note = _short("; ".join(notes))
    grade.seconds = time.monotonic() - start
    return grade


def _grade_in_worker(*args, **kwargs) -> Grade:
    """grade_notebook in a pool worker, with the kernels' stderr chatter sent to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    return grade_notebook(*args, **kwargs)


def find_submissions(folder: str | Path) -> list[Path]:
    """All .ipynb files under `folder` (recursive; checkpoints and hidden files skipped), sorted.

    Raises:
        ValueError: the folder does not exist or holds no notebooks.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"submission folder {str(folder)!r} does not exist")
    subs = sorted(p for p in folder.rglob("*.ipynb")
                  if not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not subs:
        raise ValueError(f"no notebooks (*.ipynb) in {str(folder)!r}")
    return subs


def _chapter_from_metadata(subs: list[Path]) -> str:
    chapters = set()
    for p in subs:
        try:
            chapters.add(nbformat.read(p, as_version=4).metadata.get("regviz", {}).get("chapter"))
        except Exception:  # noqa: BLE001
            continue
    chapters.discard(None)
    if len(chapters) != 1:
        what = "several chapters: " + ", ".join(sorted(chapters)) if chapters else "no chapter in the notebooks' metadata"
        raise ValueError(f"cannot tell which chapter to grade ({what}); pass --chapter")
    return chapters.pop()


def write_csv(grades: list[Grade], numbers: list[int], out: str | Path) -> None:
    """CSV: student, ex<N>, ex<N>_message for each exercise, total, message."""
    header = ["student"] + [c for n in numbers for c in (f"ex{n}", f"ex{n}_message")] + ["total", "message"]
    out = Path(out)
    if out.parent != Path(""):
        out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for g in sorted(grades, key=lambda g: g.student):
            row = [g.student]
            for n in numbers:
                row += ["pass" if g.passed.get(n) else "fail", g.messages.get(n, "")]
            w.writerow(row + [g.total, g.note])


def grade(
    submissions: str | Path,
    out: str | Path,
    *,
    chapter: str | None = None,
    notebooks: str | Path | None = None,
    jobs: int | None = None,
    timeout: int = 300,
    total_timeout: int = 1800,
    quick: bool = False,
    kernel_name: str = "python3",
    keep: str | Path | None = None,
    log=sys.stderr,
) -> list[Grade]:
    """Grade every notebook in a folder in parallel and write the CSV.

    Args:
        submissions: folder of submitted notebooks; a row's name is the path without `.ipynb`
            relative to the folder (the file stem for a flat folder).
        out: CSV path.
        chapter: '01', '1', '01_overfitting' or 'overfitting'; default: from the notebooks' metadata
            (written by `release`).
        notebooks: folder of reference notebooks (default: ./notebooks, else the course's).
        jobs: parallel kernels (default and maximum: os.cpu_count()).
        timeout, total_timeout, quick, kernel_name, keep: see grade_notebook.
        log: stream for one progress line per graded notebook (None: silent).
    Returns:
        The grades, sorted by student.
    Raises:
        ValueError: missing folder, no notebooks, unknown chapter, bad jobs or timeouts.
    """
    subs = find_submissions(submissions)
    folder = Path(notebooks) if notebooks else default_notebook_folder()
    reference = resolve_chapter(chapter if chapter else _chapter_from_metadata(subs), folder)
    cpus = os.cpu_count() or 1
    jobs = cpus if jobs is None else jobs
    if not 1 <= jobs <= cpus:
        raise ValueError(f"jobs={jobs}; allowed: 1 to {cpus} (this machine's cores)")
    if timeout <= 0 or total_timeout <= 0:
        raise ValueError(f"timeouts must be positive seconds, got timeout={timeout}, total_timeout={total_timeout}")
    numbers = [e.number for e in find_exercises(nbformat.read(reference, as_version=4))]
    if not numbers:
        raise ValueError(f"chapter {reference.stem} has no exercises")
    jobs = min(jobs, len(subs))
    names = {p: p.relative_to(submissions).with_suffix("").as_posix() for p in subs}
    kw = dict(timeout=timeout, total_timeout=total_timeout, quick=quick, kernel_name=kernel_name, keep=keep,
              threads=max(1, cpus // jobs))
    grades = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_grade_in_worker, p, reference, student=names[p], **kw): p for p in subs}
        for fut in as_completed(futures):
            p = futures[fut]
            try:
                g = fut.result()
            except Exception as e:  # noqa: BLE001 - a crashed worker is one row, not the end of the run
                g = Grade(names[p], {n: False for n in numbers}, {n: "not graded" for n in numbers},
                          note=_short(f"grader failed: {type(e).__name__}: {e}"))
            grades.append(g)
            if log is not None:
                print(f"{g.student}: {g.total}/{len(numbers)} ({g.seconds:.0f} s){' - ' + g.note if g.note else ''}",
                      file=log, flush=True)
    grades.sort(key=lambda g: g.student)
    write_csv(grades, numbers, out)
    return grades
