"""The grader on Dask distributed: an external scheduler gives the LocalCluster's rows, a lost worker loses no row,
`--resume` grades only what an interrupted run left, and a submission that kills its workers is its own row."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from regviz.homework import grade, release
from regviz.homework.partial import partial_path, read_partial
from regviz.homework.cluster import ALLOWED_FAILURES, LOCAL_CONFIG, open_client
from test_homework import SANDBOX, fill, make_chapter

PY = sys.executable
HONEST = {1: "return 2 * x", 2: "return x * x", 3: 'scale = 2 * DATA["scale"]'}
FULL = {"alice": 3, "bob": 3, "carol": 3, "dave": 2, "erin": 2, "frank": 0}
# a kernel that kills the process that started it (its grader's worker), and itself; needs --sandbox none
KILLER = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos._exit(0)"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The toy chapter and a class of six: three honest, one wrong answer, one syntax error, one file not JSON."""
    base = tmp_path_factory.mktemp("dask")
    ref = make_chapter(base / "notebooks")
    student = nbformat.read(release(base / "notebooks", base / "student")[0], as_version=4)
    subs = base / "subs"
    subs.mkdir()
    for name in ("alice", "bob", "carol"):
        nbformat.write(fill(student, HONEST), subs / f"{name}.ipynb")
    nbformat.write(fill(student, {**HONEST, 2: "return x + x"}), subs / "dave.ipynb")
    nbformat.write(fill(student, {**HONEST, 1: "return 2 *"}), subs / "erin.ipynb")
    (subs / "frank.ipynb").write_text('{"cells": [ not json')
    return base, ref, subs


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def stop(procs: list[psutil.Process]) -> None:
    """SIGTERM, then SIGKILL after 3 s, each process by its PID (children first)."""
    for p in procs:
        try:
            p.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=3)
    for p in alive:
        p.kill()
    psutil.wait_procs(alive, timeout=10)


class Cluster:
    """A `dask scheduler` and `dask worker` processes on 127.0.0.1 (random ports), joined through a scheduler file."""

    def __init__(self, folder: Path, workers: int = 2, path: str | None = None):
        self.file = folder / "scheduler.json"
        self.file.unlink(missing_ok=True)
        env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(ALLOWED_FAILURES)}
        env["PATH"] = path or env["PATH"]  # the workers' PATH: without bwrap on it, they cannot sandbox
        common = dict(cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.scheduler = subprocess.Popen([PY, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                                           "--no-dashboard", "--scheduler-file", str(self.file)], **common)
        self.workers = []
        try:
            self._wait(lambda: self.file.exists() and self.file.stat().st_size > 0, "scheduler file")
            for _ in range(workers):
                self.workers.append(subprocess.Popen(
                    [PY, "-m", "dask", "worker", "--scheduler-file", str(self.file), "--nworkers", "1", "--nthreads", "1",
                     "--no-nanny", "--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(folder)], **common))
            from distributed import Client

            with Client(scheduler_file=str(self.file), timeout=60) as c:
                c.wait_for_workers(workers, timeout=120)
        except BaseException:
            self.close()
            raise

    def _wait(self, ready, what: str, seconds: float = 120) -> None:
        end = time.monotonic() + seconds
        while not ready():
            assert time.monotonic() < end, f"no {what} after {seconds} s"
            assert self.scheduler.poll() is None, "dask scheduler exited"
            time.sleep(0.2)

    def close(self) -> None:
        procs = []
        for p in self.workers + [self.scheduler]:
            try:
                procs += psutil.Process(p.pid).children(recursive=True) + [psutil.Process(p.pid)]
            except psutil.NoSuchProcess:
                pass
        stop(procs)
        for p in self.workers + [self.scheduler]:
            p.wait(timeout=30)


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def read_csv(path: Path) -> dict[str, dict]:
    with open(path) as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def marks(path: Path) -> dict[str, tuple]:
    """student -> (pass/fail per exercise, total, message) from a grades CSV."""
    return {s: (tuple(r[f"ex{n}"] for n in (1, 2, 3)), int(r["total"]), r["message"]) for s, r in read_csv(path).items()}


class TestScheduler:
    """An external scheduler with two workers grades like the embedded LocalCluster."""

    def test_same_rows_as_local_cluster(self, course, cluster, tmp_path):
        """The six rows and their marks and messages through --scheduler equal those of the LocalCluster run."""
        base, ref, subs = course
        args = ["grade", str(subs), "--notebooks", str(ref.parent), "--chapter", ref.stem, "--timeout", "60"]
        args += [] if SANDBOX is None else ["--sandbox", SANDBOX]
        for name, extra in (("local", ["--jobs", "2"]), ("remote", ["--scheduler", str(cluster.file)])):
            run = subprocess.run([PY, "-m", "regviz.homework", *args, "--out", str(tmp_path / f"{name}.csv"), *extra],
                                 capture_output=True, text=True, timeout=600)
            assert run.returncode == 0, run.stderr[-3000:]
            assert not partial_path(tmp_path / f"{name}.csv").exists()  # removed once the CSV is written
        local, remote = marks(tmp_path / "local.csv"), marks(tmp_path / "remote.csv")
        assert {s: m[1] for s, m in local.items()} == FULL
        assert remote == local

    def test_lost_worker_loses_no_row(self, course, cluster, tmp_path):
        """A worker killed by its PID while a kernel runs under it: its task reruns on the other; every row is there."""
        base, ref, subs = course
        few = tmp_path / "subs"  # three of the class: two kernels and the reference's run are enough to lose one
        few.mkdir()
        for name in ("alice", "dave", "frank"):
            (few / f"{name}.ipynb").write_bytes((subs / f"{name}.ipynb").read_bytes())
        want = {s: FULL[s] for s in ("alice", "dave", "frank")}
        victim = psutil.Process(cluster.workers[0].pid)
        killed = []

        def kill_when_busy():
            end = time.monotonic() + 300
            while time.monotonic() < end and not killed:
                kids = victim.children(recursive=True)
                if any("ipykernel" in " ".join(_cmdline(k)) for k in kids):  # a kernel runs under this worker
                    victim.kill()
                    stop(kids)
                    killed.append(len(kids))
                time.sleep(0.05)

        import threading

        t = threading.Thread(target=kill_when_busy, daemon=True)
        t.start()
        grades = grade(few, tmp_path / "g.csv", chapter=ref.stem, notebooks=ref.parent, timeout=60, sandbox="none",
                       scheduler=str(cluster.file), log=None)  # unsandboxed to save time: the sandbox is not the point
        t.join(timeout=30)
        assert killed and cluster.workers[0].wait(timeout=30) is not None
        assert {g.student: g.total for g in grades} == want
        assert {s: m[1] for s, m in marks(tmp_path / "g.csv").items()} == want


def test_resume_grades_only_missing_rows(course, cluster, tmp_path):
    """A run killed after its first rows: --resume keeps those rows as they were and grades only the rest."""
    base, ref, subs = course
    out = tmp_path / "g.csv"
    argv = [PY, "-m", "regviz.homework", "grade", str(subs), "--out", str(out), "--notebooks", str(ref.parent),
            "--chapter", ref.stem, "--timeout", "60", "--scheduler", str(cluster.file), "--sandbox", "none"]
    run = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = partial_path(out)
    try:
        end = time.monotonic() + 300
        while not (partial.exists() and len(partial.read_text().splitlines()) >= 3):  # header + two rows
            assert run.poll() is None and time.monotonic() < end, "the first run ended before two rows were written"
            time.sleep(0.05)
    finally:
        run.kill()
        run.wait(timeout=30)
    before = read_partial(partial, ref.stem, [1, 2, 3])
    assert 2 <= len(before) < len(FULL) and not out.exists()
    log = tmp_path / "resume.log"
    with open(log, "w") as f:
        grades = grade(subs, out, chapter=ref.stem, notebooks=ref.parent, timeout=60, sandbox="none",
                       scheduler=str(cluster.file), resume=True, log=f)
    graded_now = {line.split(":")[0] for line in log.read_text().splitlines() if line.split(":")[0] in FULL}
    assert graded_now == set(FULL) - set(before)
    assert {g.student: g.total for g in grades} == FULL
    by = {g.student: g for g in grades}
    assert all(by[s].seconds == g.seconds and by[s].note == g.note for s, g in before.items())  # kept, not regraded


def test_resume_refuses_another_chapter(course, tmp_path):
    """A partial file of another chapter is not mixed in: one ValueError naming both, nothing graded."""
    base, ref, subs = course
    out = tmp_path / "g.csv"
    partial_path(out).write_text(json.dumps({"chapter": "01_overfitting", "exercises": [1, 2, 3, 4]}) + "\n")
    with pytest.raises(ValueError, match="01_overfitting.*allowed: the same chapter"):
        grade(subs, out, chapter=ref.stem, notebooks=ref.parent, sandbox=SANDBOX, resume=True, log=None)
    assert not out.exists()


def test_submission_that_kills_its_workers_is_its_row(tmp_path):
    """A kernel that kills its worker each time: after ALLOWED_FAILURES + 1 lost workers it is that student's row,
    and the honest student beside it keeps full marks (LocalCluster, --sandbox none: only there can it reach them)."""
    ref = make_chapter(tmp_path / "notebooks")
    student = nbformat.read(release(ref.parent, tmp_path / "student")[0], as_version=4)
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(fill(student, HONEST), subs / "honest.ipynb")
    nbformat.write(fill(student, {**HONEST, 1: KILLER}), subs / "killer.ipynb")
    grades = grade(subs, tmp_path / "g.csv", chapter=ref.stem, notebooks=ref.parent, jobs=min(2, os.cpu_count()),
                   timeout=60, sandbox="none", log=None)
    by = {g.student: g for g in grades}
    assert by["honest"].total == 3
    assert by["killer"].total == 0 and f"worker lost {ALLOWED_FAILURES + 1} times" in by["killer"].note
    assert f"worker lost {ALLOWED_FAILURES + 1} times" in read_csv(tmp_path / "g.csv")["killer"]["message"]


class TestArguments:
    """--scheduler with --jobs, and a scheduler that does not answer: one error line, exit status 2, no CSV."""

    @pytest.mark.parametrize("extra, words", [
        (["--scheduler", "tcp://127.0.0.1:9", "--jobs", "1"], "allowed: one of them"),
        (["--scheduler", "no-such-scheduler.json"], "no Dask scheduler answered"),
    ])
    def test_bad_scheduler(self, course, tmp_path, extra, words):
        base, ref, subs = course
        run = subprocess.run([PY, "-m", "regviz.homework", "grade", str(subs), "--out", str(tmp_path / "g.csv"),
                              "--notebooks", str(ref.parent), "--chapter", ref.stem, *extra],
                             capture_output=True, text=True, timeout=120)
        err = run.stderr.strip().splitlines()
        assert run.returncode == 2 and len(err) == 1 and words in err[0], run.stderr[-2000:]
        assert not (tmp_path / "g.csv").exists()


def test_worker_without_sandbox_refuses(course, tmp_path):
    """A worker that cannot run bubblewrap (not on its PATH) refuses: exit 2, the one-line how-to, no CSV."""
    base, ref, subs = course
    c = Cluster(tmp_path, workers=1, path=str(Path(PY).parent))
    try:
        run = subprocess.run([PY, "-m", "regviz.homework", "grade", str(subs), "--out", str(tmp_path / "g.csv"),
                              "--notebooks", str(ref.parent), "--chapter", ref.stem, "--scheduler", str(c.file)],
                             capture_output=True, text=True, timeout=300)
    finally:
        c.close()
    err = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(err) == 1, run.stderr[-2000:]
    assert "worker tcp://127.0.0.1:" in err[0] and "apt-get install bubblewrap" in err[0] and "docker/podman/none" in err[0]
    assert not (tmp_path / "g.csv").exists() and not partial_path(tmp_path / "g.csv").exists()


def _worker_settings():
    import dask

    return {k: dask.config.get(k) for k in LOCAL_CONFIG}


def test_local_cluster_workers_get_the_quiet_settings():
    """The LocalCluster's worker processes run with LOCAL_CONFIG (no 10 ms stack profiler, slower ticks), not
    Dask's defaults: the settings reach the spawned workers, not only the grader's process."""
    import dask
    import distributed  # noqa: F401  (loads distributed's defaults into dask.config)

    assert dask.config.get("distributed.worker.profile.enabled") is True  # the default this replaces, here
    with open_client(None, 1, "none") as client:
        (settings,) = client.run(_worker_settings).values()
    assert settings == LOCAL_CONFIG


def test_a_grader_fault_is_graded_again(tmp_path, monkeypatch):
    """A task that raises once (a grader fault, say a timeout on a loaded machine) is graded again, and its row is
    the real one; one that raises every time is its own row saying so, and the class beside it is graded."""
    import regviz.homework.cluster as cluster

    ref = make_chapter(tmp_path / "notebooks")
    student = nbformat.read(release(ref.parent, tmp_path / "student")[0], as_version=4)
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("flaky", "broken", "honest"):
        nbformat.write(fill(student, HONEST), subs / f"{name}.ipynb")
    marks = tmp_path / "marks"
    marks.mkdir()
    real = cluster.grade_task

    def faulty(text, chapter, student, *args, **kw):  # defined here, so Dask sends it by value to the workers
        if student == "broken" or (student == "flaky" and not (marks / student).exists()):
            (marks / student).touch()
            raise OSError(f"made-up fault grading {student}")
        return real(text, chapter, student, *args, **kw)

    monkeypatch.setattr(cluster, "grade_task", faulty)
    grades = grade(subs, tmp_path / "g.csv", chapter=ref.stem, notebooks=ref.parent, jobs=min(2, os.cpu_count()),
                   timeout=60, sandbox=SANDBOX, log=None)
    by = {g.student: g for g in grades}
    assert by["flaky"].total == 3 and by["honest"].total == 3, by
    assert by["broken"].total == 0 and "grader failed twice: OSError: made-up fault grading broken" in by["broken"].note
