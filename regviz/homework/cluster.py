"""The grader on Dask distributed (https://distributed.dask.org): each submission is one task on a cluster, a
LocalCluster of single-threaded worker processes by default, or the workers of an external scheduler.

Workers need the course package and a sandbox (bubblewrap, or docker/podman), not the submissions or the
chapter: a task carries its submission's bytes, and the chapter (reference notebook and data folders) is the
result of one small task that the grading tasks depend on. A worker that dies mid-task has its task rerun
elsewhere; after ALLOWED_FAILURES deaths more the task is given up (KilledWorker), and the submission's row says so.
"""
from __future__ import annotations

import atexit
import hashlib
import importlib.util
import logging
import os
import shutil
import socket
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .grade import grade_notebook, reference_run
from .notebook import data_folders
from .sandbox import choose

ALLOWED_FAILURES = 2  # distributed.scheduler.allowed-failures of the LocalCluster (Dask's own default is 3)
# The LocalCluster's settings for a few long tasks on a small machine. Dask's defaults sample every worker thread's
# stack every 10 ms (the statistical profiler), tick the event loop every 20 ms and poll memory every 100 ms: an
# idle 2-worker cluster used 0.145 of a core, 0.029 with these (measured on the 2-core development machine).
# An external cluster keeps its own settings (the README shows the same ones as environment variables).
LOCAL_CONFIG = {
    "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "200ms",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}  # work stealing stays on: every task needs the chapter's data, so Dask first places them all on its one holder
WORKER_WAIT = 120  # seconds an external scheduler is given to have a worker


class SandboxUnavailable(ValueError):
    """A worker cannot run the sandbox the grader asked for (the message says how to install one)."""


@dataclass(frozen=True)
class Chapter:
    """A chapter as task data: the reference notebook and its data folders' files, by path relative to its folder."""

    name: str
    files: dict[str, bytes]
    digest: str


def chapter_data(reference: Path, private: list[Path] = ()) -> Chapter:
    """The reference notebook and the files of its data folders (results/ ...), never a folder that is, or holds,
    a private path (`private`: --keep, the submissions, the grades), never notebooks."""
    files = {reference.name: reference.read_bytes()}
    for entry in data_folders(reference.parent):
        if any(Path(h).resolve().is_relative_to(entry.resolve()) for h in private):
            continue
        for f in sorted(entry.rglob("*")):
            if f.is_file() and f.suffix != ".ipynb":
                files[f.relative_to(reference.parent).as_posix()] = f.read_bytes()
    digest = hashlib.sha256()
    for rel, data in sorted(files.items()):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    return Chapter(reference.name, files, digest.hexdigest())


def chapter_task(chapter: Chapter) -> Chapter:
    """The chapter itself: submitted as a task so that Dask can recompute it on a fresh worker."""
    return chapter


_FOLDERS: dict[str, Path] = {}  # on a worker: chapter digest -> its folder, written once per process
_SANDBOXES: dict[str, str] = {}  # on a worker: sandbox kind -> '' (works) or why not
_QUIET: list[bool] = []


def chapter_folder(chapter: Chapter) -> Path:
    """The reference notebook of `chapter`, written on this worker (once per process; removed at exit)."""
    folder = _FOLDERS.get(chapter.digest)
    if folder is None or not folder.is_dir():
        folder = Path(tempfile.mkdtemp(prefix="regviz-chapter-"))
        atexit.register(shutil.rmtree, folder, True)
        for rel, data in chapter.files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
        _FOLDERS[chapter.digest] = folder
    return folder / chapter.name


def _here() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:  # not inside a worker
        return socket.gethostname()


def worker_sandbox(kind: str) -> str:
    """'' when this worker can run sandbox `kind`, else today's one-line how-to (checked once per process)."""
    if kind not in _SANDBOXES:
        try:
            choose(kind)
            _SANDBOXES[kind] = ""
        except ValueError as e:
            _SANDBOXES[kind] = str(e)
    return _SANDBOXES[kind]


def _prepare(kind: str, quiet: bool) -> None:
    """Refuse the task where the sandbox does not work; send a local worker's stderr (kernel chatter) to /dev/null."""
    why = worker_sandbox(kind)
    if why:
        raise SandboxUnavailable(f"worker {_here()}: {why}")
    if quiet and not _QUIET:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 2)
        os.close(fd)
        _QUIET.append(True)


def kernel_threads(shares: dict[str, int]) -> int:
    """Torch/OMP threads for a kernel on this worker: its host's cores over the worker threads sharing them."""
    host = _here().rsplit(":", 1)[0]
    return max(1, (os.cpu_count() or 1) // shares.get(host, os.cpu_count() or 1))


def grade_task(text: bytes, chapter: Chapter, student: str, kw: dict, shares: dict[str, int],
               quiet: bool = False) -> tuple:
    """One submission on a worker: (its Grade with raw results, the executed notebook's text when kw['keep'])."""
    kw = dict(kw)
    _prepare(kw["sandbox"].kind, quiet)
    kw["threads"] = kw["threads"] or kernel_threads(shares)
    keep = kw.pop("keep", None) and Path(tempfile.mkdtemp(prefix="regviz-keep-"))
    try:
        g = grade_notebook(text, chapter_folder(chapter), student=student, keep=keep, **kw)
        kept = keep / f"{student}.ipynb" if keep else None
        return g, kept.read_text() if kept is not None and kept.exists() else None
    finally:
        if keep:
            shutil.rmtree(keep, ignore_errors=True)


def reference_task(chapter: Chapter, run_kw: dict, shares: dict[str, int], quiet: bool = False) -> tuple[set, dict]:
    """The reference's honest run on a worker: (canary variants that pass honestly, probe values)."""
    run_kw = dict(run_kw)
    _prepare(run_kw["box"].kind, quiet)
    run_kw["threads"] = run_kw["threads"] or kernel_threads(shares)
    return reference_run(chapter_folder(chapter), **run_kw)


def thread_shares(client) -> dict[str, int]:
    """Worker threads per host of the cluster (kernels on a host share its cores)."""
    shares: dict[str, int] = {}
    for addr, info in client.scheduler_info(n_workers=-1)["workers"].items():
        host = addr.rsplit(":", 1)[0]
        shares[host] = shares.get(host, 0) + int(info.get("nthreads", 1))
    return shares


@contextmanager
def open_client(scheduler: str | None, jobs: int, kind: str, log=None):
    """A distributed.Client: on `scheduler` (an address such as tcp://host:8786, or a scheduler file), else on a
    LocalCluster of `jobs` single-threaded worker processes. Prints the dashboard's address when there is one.

    Raises:
        ValueError: no scheduler answers, it has no worker within WORKER_WAIT seconds, or a worker cannot run
            sandbox `kind` (SandboxUnavailable).
    """
    import dask
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler:
        where = {"scheduler_file": scheduler} if Path(scheduler).is_file() else {"address": scheduler}
        try:
            client = Client(timeout=30, **where)
        except (OSError, TimeoutError, ValueError) as e:
            raise ValueError(f"--scheduler {scheduler!r}: no Dask scheduler answered ({type(e).__name__}: {e}); "
                             "allowed: an address such as tcp://host:8786 or a scheduler file") from None
    else:
        # the scheduler's HTTP server (and the dashboard, where bokeh is installed) on a random port, never 8787
        dashboard = _has_bokeh()
        with dask.config.set(LOCAL_CONFIG):
            cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=":0",
                                   scheduler_kwargs={"dashboard": dashboard}, silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT)
        except TimeoutError:
            raise ValueError(f"--scheduler {scheduler!r}: no worker joined within {WORKER_WAIT} s; "
                             "start some with: dask worker ADDRESS --nthreads 1") from None
        # a worker lost meanwhile is skipped here (its tasks go to the others, as Dask does)
        for addr, why in sorted(client.run(worker_sandbox, kind, on_error="return").items()):
            if isinstance(why, str) and why:
                raise SandboxUnavailable(f"worker {addr}: {why}")
        link = getattr(cluster or client, "dashboard_link", None) if dashboard_on(client) else None
        if log is not None:
            print(f"dask: {len(client.scheduler_info(n_workers=-1)['workers'])} workers at {client.scheduler.address}"
                  + (f", dashboard {link}" if link else ""), file=log, flush=True)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _has_bokeh() -> bool:
    return importlib.util.find_spec("bokeh") is not None


def dashboard_on(client) -> bool:
    """Whether the scheduler serves a dashboard: its HTTP server runs, and bokeh (which draws the pages) is there."""
    return "dashboard" in client.scheduler_info().get("services", {}) and client.run_on_scheduler(_has_bokeh)
