"""Grading throughput, in one run: 10 copies of chapter 01 through the process pool the grader used before Dask,
the same pool with the probes off (canaries only), the grader's LocalCluster, and an external `dask scheduler`
with 2 `dask worker` processes on this machine.

Run: .venv/bin/python benchmarks/bench_grade.py [--copies 10] [--jobs 2] [--quick] [--sandbox bwrap] [--only pool,local]
Prints seconds and notebooks per minute for each, and the ratios LocalCluster / pool and scheduler / pool
(target <= 1.10) and pool / pool without probes (the cost of differential grading, target <= 1.25).
Full FAST runs by default (what final marks use); --quick runs only the cells the exercises need.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "01_overfitting"


def _no_probes() -> None:
    """Pool initializer: this worker plants no probe cells (the grader before differential grading)."""
    from regviz.homework import chapter_probes

    chapter_probes.PROBES.clear()


def _reference(reference, run_kw):
    from regviz.homework.grade import reference_run

    return reference_run(reference, **run_kw)


def _one(text, reference, student, kw):
    from regviz.homework.grade import grade_notebook

    return grade_notebook(text, reference, student=student, **kw)


def pool_grade(subs: Path, reference: Path, jobs: int, quick: bool, sandbox: str, probes: bool = True) -> list:
    """The class run before Dask: a forkserver process pool, the reference's honest run alongside the class."""
    from regviz.homework.execute import OUTPUT_LIMIT
    from regviz.homework.results import judge_canaries
    from regviz.homework.sandbox import Sandbox

    box = Sandbox(kind=sandbox)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    seed = secrets.randbits(31)
    common = dict(quick=quick, threads=threads, hide=[subs], seed=seed, timeout=300, total_timeout=1800)
    run_kw = dict(common, box=box, parameters=None, kernel_name="python3", output_limit=OUTPUT_LIMIT)
    kw = dict(common, sandbox=box, defer_canaries=True)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["regviz.homework.grade"])
    grades, waiting, honest, values = [], [], None, None
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=None if probes else _no_probes) as pool:
        futures = {pool.submit(_one, p.read_bytes(), reference, p.stem, kw): p for p in sorted(subs.glob("*.ipynb"))}
        futures[pool.submit(_reference, reference, run_kw)] = None
        for fut in as_completed(futures):
            if futures[fut] is None:
                honest, values = fut.result()
                grades += [judge_canaries(g, honest, values) for g in waiting]
            elif honest is None:
                waiting.append(fut.result())
            else:
                grades.append(judge_canaries(fut.result(), honest, values))
    return grades


class Scheduler:
    """`dask scheduler` + `dask worker` processes on 127.0.0.1 through a scheduler file; stopped by PID."""

    def __init__(self, folder: Path, workers: int):
        self.file = folder / "scheduler.json"
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder)
        py = sys.executable
        self.procs = [subprocess.Popen([py, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                                        "--no-dashboard", "--scheduler-file", str(self.file)], **quiet)]
        while not (self.file.exists() and self.file.stat().st_size):
            time.sleep(0.2)
        self.procs += [subprocess.Popen([py, "-m", "dask", "worker", "--scheduler-file", str(self.file), "--nworkers",
                                         "1", "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"], **quiet)
                       for _ in range(workers)]
        from distributed import Client

        with Client(scheduler_file=str(self.file), timeout=60) as c:
            c.wait_for_workers(workers, timeout=120)

    def close(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
        for p in reversed(self.procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def main():
    from regviz.homework import grade

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--copies", type=int, default=10)
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sandbox", default="bwrap", choices=("bwrap", "none"))
    p.add_argument("--only", default="", help="comma-separated subset of: canaries,pool,local,scheduler")
    args = p.parse_args()
    reference = ROOT / "notebooks" / f"{CHAPTER}.ipynb"
    rows, seconds = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subs = tmp / "subs"
        subs.mkdir()
        for i in range(args.copies):
            (subs / f"copy{i:02d}.ipynb").write_bytes(reference.read_bytes())
        scheduler = None  # started just before its own run, so its idle processes do not share the others' cores
        try:
            runs = {
                "pool, canaries only": lambda: pool_grade(subs, reference, args.jobs, args.quick, args.sandbox, False),
                "pool (before)": lambda: pool_grade(subs, reference, args.jobs, args.quick, args.sandbox),
                "LocalCluster": lambda: grade(subs, tmp / "local.csv", chapter=CHAPTER, notebooks=reference.parent,
                                              jobs=args.jobs, quick=args.quick, sandbox=args.sandbox, log=None),
                "dask scheduler": lambda: grade(subs, tmp / "remote.csv", chapter=CHAPTER, notebooks=reference.parent,
                                                scheduler=str(scheduler.file), quick=args.quick, sandbox=args.sandbox,
                                                log=None),
            }
            keys = dict(zip(("canaries", "pool", "local", "scheduler"), runs))
            wanted = [keys[k] for k in args.only.split(",")] if args.only else list(runs)
            for name, run in runs.items():
                if name not in wanted:
                    continue
                if name == "dask scheduler":  # an instructor starts the cluster beforehand: not timed
                    scheduler = Scheduler(tmp, args.jobs)
                load = os.getloadavg()[0]
                t = time.perf_counter()
                grades = run()
                seconds[name] = time.perf_counter() - t
                full = sum(g.total == 4 for g in grades)
                rows.append((name, f"{seconds[name]:.0f}", f"{60 * args.copies / seconds[name]:.2f}",
                             f"{full}/{args.copies}", f"{load:.1f} -> {os.getloadavg()[0]:.1f}"))
                print(" | ".join(rows[-1]), file=sys.stderr, flush=True)  # as it goes: a long run shows progress
        finally:
            if scheduler is not None:
                scheduler.close()
    print(f"{args.copies} copies of chapter 01, {'quick' if args.quick else 'full FAST'} runs, sandbox {args.sandbox}, "
          f"{args.jobs} kernels at a time, {os.cpu_count()} CPU cores")
    print(table(rows, ("grader", "seconds", "notebooks/min", "full marks", "load average")))
    pool = seconds.get("pool (before)")
    for name in ("LocalCluster", "dask scheduler"):
        if pool and name in seconds:
            print(f"ratio {name} / pool: {seconds[name] / pool:.3f} (target <= 1.10)")
    if pool and "pool, canaries only" in seconds:
        print(f"ratio pool / pool without probes: {pool / seconds['pool, canaries only']:.3f} (target <= 1.25)")


if __name__ == "__main__":
    main()
