"""Autograde one submission: it runs in its own sandboxed kernel (FAST=True), then its checks are read.

Check cells are restored from the reference notebook (as nbgrader does for its locked test cells,
Project Jupyter et al., JOSE 2019), so editing or weakening a check does not change a mark; canaries
planted around them (tamper.py) catch submissions that change how checks execute. The mark itself does
not rest on what the student's kernel says about its asserts: probes (probes.py) evaluate each answer on
inputs drawn from a seed picked fresh per run, in the student's kernel and in a clean kernel that ran the
reference, and the grader compares the returned plain data in its own process (results.py). A whole class
is graded by classrun.py.
"""
from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from .chapter_probes import PROBES
from .execute import MESSAGE_LIMIT, OUTPUT_LIMIT, run_notebook
from .notebook import check_cell_exercise, data_folders, find_exercises, slice_notebook
from .probes import add_probes, read_probes
from .results import Grade, judge_canaries, read_results, short, write_csv  # noqa: F401 - write_csv: the old home
from .sandbox import Sandbox, choose
from .tamper import passed_canaries, plant, strip_planted


def restore_checks(sub: nbformat.NotebookNode, ref: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Copy of a submission whose check cells (the first per exercise) hold the reference's source, outputs cleared."""
    ref_checks = {e.number: ref.cells[e.check_cell].source for e in find_exercises(ref) if e.check_cell is not None}
    nb = nbformat.from_dict(sub)
    seen = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        n = check_cell_exercise(cell.source)
        if n in ref_checks and n not in seen:
            seen.add(n)
            cell.source = ref_checks[n]
    return nb


def inject_parameters(nb: nbformat.NotebookNode, parameters: dict) -> nbformat.NotebookNode:
    """Insert a cell tagged `injected-parameters` after the cell tagged `parameters` (papermill's convention).

    Values are written with repr(), so they must be Python literals. Without a `parameters` cell the
    new cell goes first.
    """
    cell = nbformat.v4.new_code_cell("# Parameters\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items()))
    cell.metadata["tags"] = ["injected-parameters"]
    out = nbformat.from_dict(nb)
    at = next((i + 1 for i, c in enumerate(out.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), 0)
    out.cells.insert(at, cell)
    return out


def _kernel_env(scratch: Path, threads: int | None) -> dict[str, str]:
    """The whole environment of a sandboxed kernel (nothing else of the grader's leaks in)."""
    env = {"PATH": f"{Path(sys.prefix) / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(scratch),
           "TMPDIR": str(scratch / "tmp"), "LANG": "C.UTF-8", "REGVIZ_FAST": "1", "MPLBACKEND": "agg",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1", "PYTHONDONTWRITEBYTECODE": "1", "JUPYTER_PLATFORM_DIRS": "1"}
    for k in ("REGVIZ_DEVICE", "REGVIZ_DATA"):
        if k in os.environ:
            env[k] = os.environ[k]
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


def dataset_cache() -> Path:
    """The dataset cache regviz.datafiles.data_root() reads ($REGVIZ_DATA, else ~/.cache/regviz), mounted read-only
    for kernels; written out here because importing regviz imports torch, which the grader does not need."""
    return Path(os.environ.get("REGVIZ_DATA", Path.home() / ".cache" / "regviz"))


def read_notebook(source: str | bytes | Path) -> nbformat.NotebookNode:
    """A notebook from a path or its text/bytes; ValueError (or nbformat's errors) when it is not one."""
    text = Path(source).read_bytes() if isinstance(source, Path) else source
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    nb = nbformat.reads(text, as_version=4)
    if not isinstance(nb.get("cells"), list):
        raise ValueError("no cells")
    return nb


def grade_notebook(
    path: str | Path | bytes,
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
    sandbox: Sandbox | str | None = None,
    hide: list[Path] = (),
    output_limit: int = OUTPUT_LIMIT,
    honest: set | None = None,
    defer_canaries: bool = False,
    seed: int | None = None,
    reference_values: dict | None = None,
    message_limit: int = MESSAGE_LIMIT,
) -> Grade:
    """Execute one submission in a fresh sandboxed kernel and grade its exercises; never raises for a bad notebook.

    Args:
        path: the submitted .ipynb (a path, or its bytes already read into memory).
        reference: the chapter's reference notebook (defines the exercises and the check cells); the
            kernel runs in a scratch folder holding copies of the reference folder's other files (e.g. results/).
        student: row name (default: file stem).
        timeout: seconds per cell; a cell over it is interrupted and the next cells still run.
        total_timeout: seconds for the whole notebook; past it the kernel is killed.
        quick: run only the cells the exercises need (name analysis, see notebook.needed_cells).
        kernel_name: Jupyter kernel to run.
        parameters: papermill parameters (default {"FAST": True}).
        keep: folder to write the executed notebook to (feedback for students; grader cells removed).
        threads: OMP/torch threads for the kernel.
        sandbox: a Sandbox, a kind ('bwrap', 'docker', 'podman', 'none'), or None for the default (bwrap).
        hide: more folders the kernel must not see (the reference folder always is).
        output_limit: bytes of output kept per cell.
        honest: canary variants that pass in an honest run of the reference (see honest_canaries); None: run
            the reference once here to find them (grade() does this once for the whole class).
        defer_canaries: return the Grade before judging its canaries and probes (`raw` set; see judge_canaries).
        seed: seed of the probes' inputs (default: fresh); the reference values must come from the same seed.
        reference_values: probe values of the reference kernel (reference_run with the same seed); None: run
            the reference here when the chapter has probes (grade() does this once for the whole class).
        message_limit: kernel messages over this many bytes are dropped before they are decoded (noted).
    Returns:
        A Grade with one entry per exercise of the reference; its note says `tampered` when a canary passed.
    """
    box = sandbox if isinstance(sandbox, Sandbox) else Sandbox(kind=sandbox or choose(None))
    reference = Path(reference)
    grade = Grade(student or (Path(path).stem if not isinstance(path, bytes) else "submission"))
    start = time.monotonic()
    seed = secrets.randbits(31) if seed is None else seed
    ref = nbformat.read(reference, as_version=4)
    ref_exercises = find_exercises(ref)
    numbers = [e.number for e in ref_exercises]

    def fail_all(note: str) -> Grade:
        grade.note = short(note)
        for n in numbers:
            grade.passed[n], grade.messages[n] = False, "not graded"
        grade.raw = {"passed": dict(grade.passed), "messages": dict(grade.messages), "notes": [note], "canaries": set(),
                     "chapter": reference.stem, "probes": {}}
        grade.seconds = time.monotonic() - start
        return grade

    try:
        sub = read_notebook(path if isinstance(path, bytes) else Path(path))
    except Exception as e:  # noqa: BLE001 - any unreadable file is a row, not a crash
        return fail_all(f"not a readable notebook ({type(e).__name__}: {e})")
    run_kw = dict(box=box, quick=quick, parameters=parameters, hide=hide, threads=threads, timeout=timeout,
                  total_timeout=total_timeout, kernel_name=kernel_name, output_limit=output_limit, seed=seed,
                  message_limit=message_limit)
    meta = sub.metadata.get("regviz")
    chapter = meta.get("chapter") if isinstance(meta, dict) else None
    notes = [f"notebook says chapter {chapter!r}, graded as {reference.stem}"] if chapter and chapter != reference.stem else []
    if box.kind == "none":
        notes.append("graded without a sandbox (--sandbox none)")
    specs = PROBES.get(reference.stem, {})
    if not defer_canaries and (honest is None or (reference_values is None and specs)):
        found, values = reference_run(reference, **run_kw)
        honest = found if honest is None else honest
        reference_values = values if reference_values is None else reference_values
    executed, plan, missing, statuses, run_notes = _execute(sub, ref, reference, **run_kw)
    notes += run_notes
    if any(o.get("ename") == "MemoryError" for c in executed.cells for o in c.get("outputs", [])):
        notes.append(f"MemoryError: over the {box.memory / 1e9:g} GB memory cap")
    passed, messages = read_results(executed, numbers, plan, missing, statuses)
    grade.raw = {"passed": passed, "messages": messages, "notes": notes, "canaries": passed_canaries(executed, plan),
                 "chapter": reference.stem, "probes": read_probes(executed, specs)}
    if keep:
        out_path = Path(keep) / f"{grade.student}.ipynb"
        out_path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(strip_planted(executed, plan), out_path)
    grade.seconds = time.monotonic() - start
    return grade if defer_canaries else judge_canaries(grade, honest, reference_values)


def _execute(sub: nbformat.NotebookNode, ref: nbformat.NotebookNode, reference: Path, *, box: Sandbox, quick: bool,
             parameters: dict | None, hide: list[Path], threads: int | None, timeout: int, total_timeout: int,
             kernel_name: str, output_limit: int, seed: int = 0, message_limit: int = MESSAGE_LIMIT):
    """Build the grading copy of `sub` (reference checks, canaries, parameters, the chapter's probes seeded with
    `seed` at the end) and run it in the sandbox.

    Returns:
        (executed notebook, plan, missing check numbers, reply status per cell, notes).
    """
    nb = restore_checks(sub, ref)
    if quick:
        nb = slice_notebook(nb)
    nb, plan, missing = plant(nb, ref, find_exercises(ref))
    nb = inject_parameters(nb, {"FAST": True} if parameters is None else parameters)
    nb = add_probes(nb, PROBES.get(reference.stem, {}), seed)
    scratch = Path(tempfile.mkdtemp(prefix="regviz-grade-"))
    try:
        (scratch / "tmp").mkdir()
        # the chapter's data folders (results/ ...), never loose files such as a grades CSV; a folder that is,
        # or holds, a hidden path (--keep, submissions) stays out too
        private = [h for h in (Path(p).resolve() for p in hide) if h != reference.parent.resolve()]
        for entry in data_folders(reference.parent):
            if not any(h.is_relative_to(entry.resolve()) for h in private):
                shutil.copytree(entry, scratch / entry.name, ignore=shutil.ignore_patterns("*.ipynb"))
        logging.getLogger("traitlets").setLevel(logging.CRITICAL)
        executed, statuses, notes = run_notebook(
            nb, box=box, scratch=scratch, hide=[reference.parent, *hide], env=_kernel_env(scratch, threads),
            extra_ro=[dataset_cache()], timeout=timeout, total_timeout=total_timeout, kernel_name=kernel_name,
            output_limit=output_limit, message_limit=message_limit)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return executed, plan, missing, statuses, notes


def reference_run(reference: str | Path, **run_kw) -> tuple[set[tuple[int, str]], dict]:
    """One clean kernel running the reference solution: (canary variants that pass honestly, probe values).

    Canaries that pass in an honest run prove nothing, so they are ignored when grading; the probe values
    (for run_kw's seed) are what every submission's probes are compared with. Keyword arguments as for
    grade_notebook's execution (box, quick, seed, ...).
    """
    reference = Path(reference)
    ref = nbformat.read(reference, as_version=4)
    executed, plan, *_ = _execute(ref, ref, reference, **run_kw)
    return passed_canaries(executed, plan), read_probes(executed, PROBES.get(reference.stem, {}))


def honest_canaries(reference: str | Path, **run_kw) -> set[tuple[int, str]]:
    """Canary variants that pass in an honest run of the reference notebook (see reference_run)."""
    return reference_run(reference, **run_kw)[0]
