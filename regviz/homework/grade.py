"""Autograde submissions: each notebook runs in its own sandboxed kernel (FAST=True), then the checks are read.

Check cells are restored from the reference notebook (as nbgrader does for its locked test cells,
Project Jupyter et al., JOSE 2019), so editing or weakening a check does not change a mark; canaries
planted around them (tamper.py) catch submissions that change how checks execute. The mark itself does
not rest on what the student's kernel says about its asserts: probes (probes.py) evaluate each answer on
inputs drawn from a seed picked fresh per run, in the student's kernel and in a clean kernel that ran the
reference, and the grader compares the returned plain data in its own process.
"""
from __future__ import annotations

import csv
import logging
import multiprocessing
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..data import data_root  # the dataset cache regviz.data reads: mounted read-only for kernels
from .execute import MESSAGE_LIMIT, OUTPUT_LIMIT, run_notebook
from .notebook import (check_number, data_folders, default_notebook_folder, find_exercises, resolve_chapter,
                       slice_notebook)
from .probes import PROBES, add_probes, judge_exercise, read_probes
from .sandbox import Sandbox, choose, pids_cgroup, remove_cgroup
from .submissions import MAX_SUBMISSION_BYTES, Refused, chapter_by_majority, csv_safe, find_submissions, read_submission
from .tamper import ROLE, Plan, passed_canaries, plant, strip_planted

ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Grade:
    """One graded submission: pass/fail and a message per exercise number, and a notebook-level note."""

    student: str
    passed: dict[int, bool] = field(default_factory=dict)
    messages: dict[int, str] = field(default_factory=dict)
    note: str = ""
    seconds: float = 0.0
    # Before the canaries are judged: results as if no canary passed, notes, and the canaries that passed.
    raw: dict | None = field(default=None, repr=False, compare=False)

    @property
    def total(self) -> int:
        """Number of exercises passed."""
        return sum(self.passed.values())


TAMPERED = "tampered: a grader canary that must fail passed (the submission changes how checks run)"


def judge_canaries(grade: Grade, honest: set, reference: dict | None = None) -> Grade:
    """Final marks of a grade: an exercise whose canary passed (and does not pass in an honest run) fails, and so
    does one whose probe values differ from the reference kernel's (or break the exercise's property).

    Args:
        grade: a Grade with `raw` results (grade_notebook(..., defer_canaries=True)).
        honest: canary variants (exercise, variant) that pass in an honest run of the reference (calibrate).
        reference: probe values of the reference kernel per exercise, for the same seed (reference_run);
            None: probes are not judged (only the check cells and canaries count).
    Returns:
        The same Grade, with passed, messages and note set.
    """
    raw = grade.raw
    tampered = sorted({n for n, v in raw["canaries"] if (n, v) not in honest})
    grade.passed = {n: ok and n not in tampered for n, ok in raw["passed"].items()}
    grade.messages = {n: TAMPERED if n in tampered else m for n, m in raw["messages"].items()}
    notes = list(raw["notes"])
    if tampered:
        notes.insert(0, "tampered: exercise " + ", ".join(map(str, tampered)) + " ran under changed execution (no credit)")
    specs = PROBES.get(raw.get("chapter"), {})
    if reference is not None:
        differ = []
        for n, values in sorted((raw.get("probes") or {}).items()):
            if n not in specs or n not in grade.passed:
                continue
            why, extra = judge_exercise(specs[n], values, reference.get(n))
            notes += [f"exercise {n}: {e}" for e in extra]
            if why and grade.passed[n]:  # a failed check keeps its own message (the student's feedback)
                grade.passed[n] = False
                grade.messages[n] = _short(f"differential check failed: {why}")
                differ.append(n)
        if differ:
            notes.insert(0, "exercise " + ", ".join(map(str, differ)) + ": the check passed in the kernel, but the "
                         "answers fail the grader's own probes on fresh inputs (no credit)")
    grade.note = _short("; ".join(notes), 500)
    return grade


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


def restore_checks(sub: nbformat.NotebookNode, ref: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Copy of a submission whose check cells (the first per exercise) hold the reference's source, outputs cleared."""
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
            cell.source = ref_checks[n]
    return nb


def _role(cell) -> dict:
    return cell.get("metadata", {}).get(ROLE, {})


def _clean(cell, tok: str, status: str | None) -> tuple[bool, str | None]:
    """(printed its token with no error shown and no error reply, error text)."""
    err = _error_of(cell)
    printed = any(line.strip() == tok for line in _stdout(cell).splitlines())
    return printed and err is None and status in (None, "ok"), err


def read_results(nb: nbformat.NotebookNode, numbers: list[int], plan: Plan, missing: list[int],
                 statuses: dict[int, str] | None = None) -> tuple[dict, dict]:
    """Pass/fail and message per exercise from an executed grading copy (canaries are judged apart, in
    `judge_canaries`).

    A check passes when its cell printed its token, shows no error and the kernel replied 'ok'. A failing
    check reports its error; when an answer cell of the exercise raised first, that error leads the message.
    """
    statuses = statuses or {}
    view = nbformat.from_dict(nb)  # the submission's own cells and the real checks, for the exercise structure
    keep = [i for i, c in enumerate(nb.cells) if _role(c).get("role") in (None, "check")]
    view.cells = [nb.cells[i] for i in keep]
    exercises = {e.number: e for e in find_exercises(view)}
    passed, messages = {}, {}
    for n in numbers:
        ex = exercises.get(n)
        check = view.cells[ex.check_cell] if ex is not None and ex.check_cell is not None else None
        if n in missing or check is None or _role(check).get("role") != "check":
            passed[n], messages[n] = False, "check cell missing from the submission"
            continue
        status = statuses.get(keep[ex.check_cell])
        ok, err = _clean(check, plan.checks[n], status)
        passed[n] = ok
        if ok:
            messages[n] = ""
            continue
        if err is None:
            err = ("check did not run" if status is None else
                   "check failed (error reply, no error shown)" if status == "error" else
                   "check did not finish (time limit or kernel stopped)")
        answer_errs = [e for e in (_error_of(view.cells[i]) for i in ex.answer_cells) if e]
        messages[n] = _short(f"answer: {answer_errs[0]} | check: {err}" if answer_errs else err)
    return passed, messages


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


def _read_notebook(source: str | bytes | Path) -> nbformat.NotebookNode:
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
        honest: canary variants that pass in an honest run of the reference (see calibrate); None: run
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
        grade.note = _short(note)
        for n in numbers:
            grade.passed[n], grade.messages[n] = False, "not graded"
        grade.raw = {"passed": dict(grade.passed), "messages": dict(grade.messages), "notes": [note], "canaries": set(),
                     "chapter": reference.stem, "probes": {}}
        grade.seconds = time.monotonic() - start
        return grade

    try:
        sub = _read_notebook(path if isinstance(path, bytes) else Path(path))
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
    nb = add_probes(nb, reference.stem, seed)
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
            extra_ro=[data_root()], timeout=timeout, total_timeout=total_timeout, kernel_name=kernel_name,
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


def calibrate(reference: str | Path, **run_kw) -> set[tuple[int, str]]:
    """Canary variants that pass in an honest run of the reference notebook (see reference_run)."""
    return reference_run(reference, **run_kw)[0]


def _quiet() -> None:
    """Send a pool worker's stderr (kernel chatter) to /dev/null."""
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 2)
    os.close(fd)  # fd 2 keeps /dev/null open; the extra descriptor would leak once per task


def _grade_in_worker(*args, **kwargs) -> Grade:
    _quiet()
    return grade_notebook(*args, **kwargs)


def _reference_in_worker(*args, **kwargs) -> tuple[set, dict]:
    _quiet()
    return reference_run(*args, **kwargs)


def _chapter_from_metadata(texts: dict[Path, bytes], folder: Path) -> str:
    chapters = []
    for text in texts.values():
        try:
            chapters.append(_read_notebook(text).metadata.get("regviz", {}).get("chapter"))
        except Exception:  # noqa: BLE001 - an unreadable notebook gets its own row later
            continue

    def is_chapter(name: str) -> bool:
        try:
            resolve_chapter(name, folder)
        except ValueError:
            return False
        return True

    return chapter_by_majority(chapters, is_chapter)


def _not_graded(student: str, numbers: list[int], note: str) -> Grade:
    """The row of a submission that never ran: every exercise failed, with the reason as its note."""
    return Grade(student, raw={"passed": {n: False for n in numbers}, "canaries": set(), "notes": [note],
                               "messages": {n: "not graded" for n in numbers}, "probes": {}})


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
            w.writerow([csv_safe(c) for c in row + [g.total, g.note]])


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
    sandbox: str | None = None,
    memory: int = 4 * 10**9,
    disk: int = Sandbox.disk,
    output_limit: int = OUTPUT_LIMIT,
    max_bytes: int = MAX_SUBMISSION_BYTES,
    message_limit: int = MESSAGE_LIMIT,
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
        timeout, total_timeout, quick, kernel_name, keep, output_limit, message_limit: see grade_notebook.
        sandbox: 'bwrap', 'docker', 'podman' or 'none' (no isolation: a warning, and a note on every row);
            default: bwrap, and a ValueError saying how to install it when it is missing.
        memory: cap on each kernel's data segment (RLIMIT_DATA; docker/podman: --memory) in bytes.
        disk: bytes each kernel may write (bwrap: its scratch tmpfs; also the largest single file).
        max_bytes: a larger submission is not read (its row says so).
        log: stream for one progress line per graded notebook and warnings (None: silent).
    Returns:
        The grades, sorted by student.
    Raises:
        ValueError: missing folder, no notebooks, unknown chapter, bad jobs, timeouts, sandbox or memory,
            no sandbox available, or an output path inside the submissions folder.
    """
    box = Sandbox(kind=sandbox or "bwrap", memory=memory, disk=disk)  # validates kind and memory before any work
    if not (isinstance(max_bytes, int) and max_bytes >= 1):
        raise ValueError(f"max_bytes={max_bytes!r}: give a positive number of bytes")
    subs = find_submissions(submissions)
    # a row's name is its path as listed, never a link's target (a link to a classmate is the copier's row)
    names = {p: p.relative_to(submissions).with_suffix("").as_posix() for p in subs}
    submissions = Path(submissions).resolve()
    for what, path in (("--out", Path(out).resolve()), ("--keep", Path(keep).resolve() if keep else None)):
        if path is not None and path.is_relative_to(submissions):
            raise ValueError(f"{what} {str(path)!r} is inside the submissions folder; nothing is ever written there")
    # 1. Read every submission into memory before any kernel starts: nothing a kernel does changes what is graded.
    #    Links, folders, FIFOs, devices and oversized files are refused: each is that student's row.
    texts, refused = {}, {}
    for p in subs:
        try:
            texts[p] = read_submission(p, max_bytes)
        except Refused as exc:
            refused[p] = str(exc)
    folder = Path(notebooks) if notebooks else default_notebook_folder()
    reference = resolve_chapter(chapter if chapter else _chapter_from_metadata(texts, folder), folder)
    cpus = os.cpu_count() or 1
    jobs = cpus if jobs is None else jobs
    if not 1 <= jobs <= cpus:
        raise ValueError(f"jobs={jobs}; allowed: 1 to {cpus} (this machine's cores)")
    if timeout <= 0 or total_timeout <= 0:
        raise ValueError(f"timeouts must be positive seconds, got timeout={timeout}, total_timeout={total_timeout}")
    numbers = [e.number for e in find_exercises(nbformat.read(reference, as_version=4))]
    if not numbers:
        raise ValueError(f"chapter {reference.stem} has no exercises")
    # 2. The sandbox: bwrap unless told otherwise; none only when asked for, with a warning.
    box = Sandbox(kind=choose(sandbox), memory=memory, disk=disk)
    if box.kind == "none" and log is not None:
        print("warning: --sandbox none: submissions run unisolated and can read or change any file you can",
              file=log, flush=True)
    if box.kind in ("bwrap", "none") and os.geteuid() == 0 and log is not None:
        probe = pids_cgroup(box.nproc)
        remove_cgroup(probe)
        if probe is None:
            print("note: grading as root without a writable pids cgroup: Linux does not apply the process limit "
                  "(RLIMIT_NPROC) to root; grade as an ordinary user to have it", file=log, flush=True)
    jobs = max(1, min(jobs, len(texts)))
    hide = [submissions, Path(out).resolve().parent] + ([Path(keep).resolve()] if keep else [])
    threads = max(1, cpus // jobs)
    seed = secrets.randbits(31)  # the probes' inputs: fresh for every run, the same for the reference and the class
    run_kw = dict(box=box, quick=quick, parameters=None, hide=hide, threads=threads, timeout=timeout,
                  total_timeout=total_timeout, kernel_name=kernel_name, output_limit=output_limit, seed=seed,
                  message_limit=message_limit)
    kw = dict(timeout=timeout, total_timeout=total_timeout, quick=quick, kernel_name=kernel_name, keep=keep,
              threads=threads, sandbox=box, hide=hide, output_limit=output_limit, defer_canaries=True, seed=seed,
              message_limit=message_limit)
    grades, waiting, honest, values = [], [], None, None
    for p, note in refused.items():
        grades.append(judge_canaries(_not_graded(names[p], numbers, note), set()))
        if log is not None:
            print(f"{names[p]}: 0/{len(numbers)} - {note}", file=log, flush=True)
    if not texts:
        grades.sort(key=lambda g: g.student)
        write_csv(grades, numbers, out)
        return grades

    def report(g: Grade) -> None:
        grades.append(judge_canaries(g, honest, values))
        if log is not None:
            print(f"{g.student}: {g.total}/{len(numbers)} ({g.seconds:.0f} s){' - ' + g.note if g.note else ''}",
                  file=log, flush=True)

    # Workers come from a fresh forkserver, never forked from this process: a process that already ran a
    # kernel client (zmq sockets, an event loop) cannot be forked safely (seen as workers spinning on EINTR).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["regviz.homework.grade"])
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        # 3. One honest run of the reference, alongside the class: canary variants that pass there prove nothing,
        #    and its probe values are what each submission's are compared with.
        calibration = pool.submit(_reference_in_worker, reference, **run_kw)
        futures = {pool.submit(_grade_in_worker, texts[p], reference, student=names[p], **kw): p for p in texts}
        futures[calibration] = None
        for fut in as_completed(futures):
            p = futures[fut]
            if p is None:
                honest, values = fut.result()  # an error here is the grader's own: it stops the run
                for g in waiting:
                    report(g)
                continue
            try:
                g = fut.result()
            except Exception as e:  # noqa: BLE001 - a crashed worker is one row, not the end of the run
                g = _not_graded(names[p], numbers, _short(f"grader failed: {type(e).__name__}: {e}"))
            if honest is None:
                waiting.append(g)
            else:
                report(g)
    grades.sort(key=lambda g: g.student)
    write_csv(grades, numbers, out)
    return grades
