"""Grade a whole class: read every submission up front, grade each as one task on Dask (cluster.py), write rows
to a partial file as they arrive (so `--resume` grades only what is missing), then the CSV, atomically.
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import nbformat

from .cgroups import kernel_cgroups, sandbox_memory_cap
from .execute import MESSAGE_LIMIT, OUTPUT_LIMIT
from .grade import read_notebook
from .notebook import default_notebook_folder, find_exercises, resolve_chapter
from .partial import Rows, partial_path, read_partial
from .results import Grade, judge_canaries, not_graded, short, write_csv
from .sandbox import Sandbox, choose
from .submissions import MAX_SUBMISSION_BYTES, Refused, chapter_by_majority, find_submissions, read_submission

def _chapter_from_metadata(texts: dict[Path, bytes], folder: Path) -> str:
    chapters = []
    for text in texts.values():
        try:
            chapters.append(read_notebook(text).metadata.get("regviz", {}).get("chapter"))
        except Exception:  # noqa: BLE001 - an unreadable notebook gets its own row later
            continue

    def is_chapter(name: str) -> bool:
        try:
            resolve_chapter(name, folder)
        except ValueError:
            return False
        return True

    return chapter_by_majority(chapters, is_chapter)


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
    scheduler: str | None = None,
    resume: bool = False,
    log=sys.stderr,
) -> list[Grade]:
    """Grade every notebook in a folder, each as one Dask task, and write the CSV.

    Args:
        submissions: folder of submitted notebooks; a row's name is the path without `.ipynb`
            relative to the folder (the file stem for a flat folder).
        out: CSV path (written atomically); finished rows go to `out` + '.partial.jsonl' as they arrive,
            removed once the CSV is written.
        chapter: '01', '1', '01_overfitting' or 'overfitting'; default: from the notebooks' metadata
            (written by `release`).
        notebooks: folder of reference notebooks (default: ./notebooks, else the course's).
        jobs: worker processes of the LocalCluster (default and maximum: os.cpu_count()); not with `scheduler`.
        timeout, total_timeout, quick, kernel_name, keep, output_limit, message_limit: see grade_notebook.
        sandbox: 'bwrap', 'docker', 'podman' or 'none' (no isolation: a warning, and a note on every row);
            default: bwrap, and a ValueError saying how to install it when it is missing (here, or on a worker).
        memory: cap on each kernel's data segment (RLIMIT_DATA; docker/podman: --memory) in bytes.
        disk: bytes each kernel may write (bwrap: its scratch tmpfs; also the largest single file).
        max_bytes: a larger submission is not read (its row says so).
        scheduler: a Dask scheduler's address (tcp://host:8786) or scheduler file; None: a LocalCluster here.
        resume: keep the rows of the partial file an interrupted run left, and grade only the others.
        log: stream for the cluster's address, a progress bar, one line per graded notebook and warnings
            (None: silent).
    Returns:
        The grades, sorted by student.
    Raises:
        ValueError: missing folder, no notebooks, unknown chapter, bad jobs, timeouts, sandbox or memory,
            no sandbox available (here or on a worker), an output path inside the submissions folder, no
            scheduler or worker, or a partial file of another chapter with `resume`.
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
    if scheduler and jobs is not None:
        raise ValueError(f"jobs={jobs} with scheduler={scheduler!r}; allowed: one of them (--jobs sizes the local "
                         "cluster; the workers started for a scheduler decide their own number)")
    jobs = cpus if jobs is None else jobs
    if not 1 <= jobs <= cpus:
        raise ValueError(f"jobs={jobs}; allowed: 1 to {cpus} (this machine's cores)")
    if timeout <= 0 or total_timeout <= 0:
        raise ValueError(f"timeouts must be positive seconds, got timeout={timeout}, total_timeout={total_timeout}")
    numbers = [e.number for e in find_exercises(nbformat.read(reference, as_version=4))]
    if not numbers:
        raise ValueError(f"chapter {reference.stem} has no exercises")
    partial = partial_path(out)
    done = read_partial(partial, reference.stem, numbers) if resume else {}
    # 2. The sandbox: bwrap unless told otherwise; none only when asked for, with a warning. Workers of an
    #    external scheduler check their own (cluster.open_client), the local cluster's are this machine.
    if not scheduler:
        box = Sandbox(kind=choose(sandbox), memory=memory, disk=disk)
    _warn(box, scheduler, log)
    hide = [submissions, Path(out).resolve().parent] + ([Path(keep).resolve()] if keep else [])
    seed = secrets.randbits(31)  # the probes' inputs: fresh for every run, the same for the reference and the class
    threads = None if scheduler else max(1, cpus // max(1, min(jobs, len(texts))))
    run_kw = dict(box=box, quick=quick, parameters=None, hide=hide, threads=threads, timeout=timeout,
                  total_timeout=total_timeout, kernel_name=kernel_name, output_limit=output_limit, seed=seed,
                  message_limit=message_limit)
    kw = dict(timeout=timeout, total_timeout=total_timeout, quick=quick, kernel_name=kernel_name, keep=keep,
              threads=threads, sandbox=box, hide=hide, output_limit=output_limit, defer_canaries=True, seed=seed,
              message_limit=message_limit)
    rows = Rows(partial, reference.stem, numbers, done, log)
    try:
        for p, note in refused.items():
            if names[p] not in done:
                rows.add(judge_canaries(not_graded(names[p], numbers, note), set()))
        todo = {p: t for p, t in texts.items() if names[p] not in done}
        if todo:
            from .cluster import open_client

            with open_client(scheduler, max(1, min(jobs, len(todo))), box.kind, log) as client:
                _run(client, todo, names, reference, numbers, run_kw, kw, rows, keep, quiet=not scheduler)
    finally:
        rows.close()
    wanted = {names[p] for p in subs}  # a row of a file no longer submitted is dropped
    grades = sorted((g for g in rows.grades.values() if g.student in wanted), key=lambda g: g.student)
    write_csv(grades, numbers, out)
    partial.unlink(missing_ok=True)
    return grades


def _warn(box: Sandbox, scheduler: str | None, log) -> None:
    if log is None:
        return
    if box.kind == "none":
        print("warning: --sandbox none: submissions run unisolated and can read or change any file you can",
              file=log, flush=True)
    if not scheduler and box.kind in ("bwrap", "none"):
        probe = kernel_cgroups(box.nproc, sandbox_memory_cap(box.memory, box.disk))
        if probe is not None:
            probe.remove()
        if os.geteuid() == 0 and not (probe and probe.pids):
            print("note: grading as root without a writable pids cgroup: Linux does not apply the process limit "
                  "(RLIMIT_NPROC) to root; grade as an ordinary user to have it", file=log, flush=True)
        if not (probe and probe.memory):
            print("note: no writable memory cgroup: the memory cap is RLIMIT_DATA only, which shared mappings "
                  "(mmap MAP_SHARED) escape; see the README's threat model", file=log, flush=True)


def _run(client, todo: dict[Path, bytes], names: dict[Path, str], reference: Path, numbers: list[int],
         run_kw: dict, kw: dict, rows: Rows, keep, *, quiet: bool) -> None:
    """Submit the reference's honest run and one task per submission; judge and record rows as they finish."""
    from distributed import as_completed, wait
    from distributed.scheduler import KilledWorker

    from ..progress import progress_bar
    from .cluster import SandboxUnavailable, chapter_data, chapter_task, grade_task, reference_task, thread_shares

    shares = thread_shares(client)
    # The chapter as a task's result, not scattered data: Dask recomputes a result whose every holder died (a
    # submission that kills each worker it lands on), where scattered data would be forgotten with its tasks.
    chapter = client.submit(chapter_task, chapter_data(reference, run_kw["hide"]), pure=False, priority=20)
    # On every worker before the class is submitted: a task goes to a worker that holds its inputs, so with the
    # chapter on one worker only, Dask queued the whole class there and the others waited for work stealing
    # (LocalCluster 1.30-1.44x the old pool's time; see benchmarks/bench_grade.py).
    wait([chapter])
    if chapter.status == "finished":  # an error here surfaces with the first task that needs the chapter
        client.replicate([chapter])
    # 1. One honest run of the reference, first: canary variants that pass there prove nothing, and its probe
    #    values are what each submission's are compared with.
    calibration = client.submit(reference_task, chapter, run_kw, shares, quiet, priority=10, pure=False)
    submit = lambda p: client.submit(grade_task, todo[p], chapter, names[p], kw, shares, quiet, pure=False)  # noqa: E731
    futures = {submit(p): p for p in todo}
    futures[calibration] = None
    retried: set[Path] = set()
    bar = progress_bar(total=len(todo), desc="grading", unit="notebook", disable=rows.log is None)
    rows.bar = bar if rows.log is not None else None
    honest = values = None
    waiting: list[Grade] = []
    failed = 0
    try:
        arriving = as_completed(futures)
        for fut in arriving:
            p = futures.pop(fut)
            kept = None
            if p is None:
                honest, values = fut.result()  # an error here is the grader's own: it stops the run
                for g in waiting:
                    rows.add(judge_canaries(g, honest, values))
                waiting = []
                continue
            try:
                g, kept = fut.result()
            except SandboxUnavailable:
                raise
            except KilledWorker as e:
                g = not_graded(names[p], numbers, f"worker lost {e.allowed_failures + 1} times while grading this "
                               "submission (each worker died: killed, out of memory, or its machine gone); not graded")
            except Exception as e:  # noqa: BLE001 - a crashed task is one row, not the end of the run
                if p not in retried:  # once more: a grader fault can be passing (a timeout on a loaded machine)
                    retried.add(p)
                    futures[retry := submit(p)] = p
                    arriving.add(retry)
                    rows.say(f"{names[p]}: grader failed ({short(f'{type(e).__name__}: {e}')}); grading it again")
                    continue
                g = not_graded(names[p], numbers, short(f"grader failed twice: {type(e).__name__}: {e}"))
            failed += all(m == "not graded" for m in g.raw["messages"].values())  # the row of a notebook never run
            if kept is not None:
                path = Path(keep) / f"{g.student}.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(kept)
            if honest is None:
                waiting.append(g)
            else:
                rows.add(judge_canaries(g, honest, values))
            bar.update(1)
            bar.set_postfix(done=bar.n, failed=failed, remaining=len(todo) - bar.n, refresh=False)
    finally:
        bar.close()
        rows.bar = None
        for fut in futures:
            fut.cancel()
