"""Homework grading under attack: sandbox isolation, tamper detection, limits, and the new arguments."""
import csv
import hashlib
import os
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from regviz.homework import find_exercises, grade, release_notebook
from regviz.homework import sandbox as sb
from regviz.homework.cgroups import kernel_cgroups
from regviz.homework.__main__ import main
from regviz.homework.grade import grade_notebook, honest_canaries
from regviz.homework.tamper import decoy_names, only_assert, plant, tainted_asserts
from test_homework import make_chapter

ROOT = Path(__file__).resolve().parents[1]
CH01 = ROOT / "notebooks" / "01_overfitting.ipynb"
needs_bwrap = pytest.mark.skipif(not sb.bwrap_works(), reason="bubblewrap missing: make test installs it (scripts/ensure-bubblewrap.sh)")

# Attacks, each placed at the top of an exercise's answer cell (answer cells always run, also with --quick).
STRIP_ASSERTS = """
def _strip(lines):
    return [line for line in lines if not line.lstrip().startswith("assert")]
get_ipython().input_transformers_cleanup.append(_strip)
"""
AST_NO_ASSERTS = """
import ast
class _NoAssert(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(_NoAssert())
"""
PATCHED_ABS = """
import builtins
builtins.abs = lambda x: 0
"""
SWALLOW_ERRORS = """
import ast, sys
_cell = {}
get_ipython().events.register("pre_run_cell", lambda info: _cell.update(raw=info.raw_cell))
def _swallow(shell, etype, value, tb, tb_offset=None):
    for node in ast.walk(ast.parse(_cell["raw"])):  # echo every string literal of the failing cell (its token among them)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            sys.stdout.write(node.value + "\\n")
get_ipython().set_custom_exc((AssertionError, NotImplementedError), _swallow)
get_ipython()._showtraceback = lambda *args, **kwargs: None  # and show no error
"""
PATCHED_KERNEL = """
_kernel = get_ipython().kernel
_orig_execute = _kernel.do_execute
async def _do_execute(code, *args, **kwargs):
    code = "\\n".join(line for line in code.split("\\n") if not line.lstrip().startswith("assert"))
    return await _orig_execute(code, *args, **kwargs)
_kernel.do_execute = _do_execute
"""
READ_SOLUTIONS = """
import glob, json
_paths = [{ref!r}] + glob.glob("/proc/*/cwd/notebooks/01_overfitting.ipynb") + glob.glob("/proc/*/cwd/01_overfitting.ipynb")
for _p in _paths:
    try:
        _cells = json.load(open(_p))["cells"]
    except Exception:
        continue
    for _c in _cells:
        _s = "".join(_c["source"])
        if _c["cell_type"] == "code" and "BEGIN SOLUTION" in _s and "noisy_hist" in _s:
            exec(_s, globals())
    break
"""
DESTROY_OTHERS = """
import glob, os
_dirs = [{subs!r}]
for _pid in glob.glob("/proc/[0-9]*/cmdline"):  # the grader's command line names the submissions folder
    try:
        _dirs += [a for a in open(_pid, "rb").read().decode().split("\\0") if os.path.isdir(a)]
    except Exception:
        pass
for _d in _dirs:
    for _f in glob.glob(os.path.join(_d, "*.ipynb")) + glob.glob(os.path.join(_d, "*", "*.ipynb")) + [{out!r}]:
        try:
            open(_f, "w").write("destroyed")
        except Exception:
            pass
"""
FLOOD = 'for _ in range(100_000):\n    print("x" * 1000)  # 100 MB'
MEMORY_HOG = "_big = bytearray(6 * 10**9)"


def with_code(nb, exercise: int, code: str, *, after: bool = False):
    """Copy of `nb` with `code` before (or after) the source of the exercise's first answer cell."""
    nb = nbformat.from_dict(nb)
    cell = nb.cells[next(e for e in find_exercises(nb) if e.number == exercise).answer_cells[0]]
    code = textwrap.dedent(code).strip()
    cell.source = f"{cell.source}\n{code}" if after else f"{code}\n{cell.source}"
    return nb


def digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def read_rows(path):
    with open(path, newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def grade_class(base: Path, build) -> dict:
    """Write the class that build(student copy, reference, subs, out) returns, grade it (quick, sandboxed), report."""
    subs, out, keep = base / "subs", base / "out" / "grades.csv", base / "keep"
    subs.mkdir()
    ref = nbformat.read(CH01, as_version=4)
    student = release_notebook(ref, chapter=CH01.stem)
    for name, nb in build(student, ref, subs, out).items():
        nbformat.write(nb, subs / f"{name}.ipynb")
    before = digest(subs)
    grades = grade(subs, out, chapter="01", notebooks=CH01.parent, jobs=min(2, os.cpu_count()), quick=True,
                   keep=keep, log=None)
    return dict(rows=read_rows(out), before=before, after=digest(subs), grades=grades, keep=keep, n=len(find_exercises(ref)))


def partial_answers(student, ref, numbers):
    """The student copy with the reference answers of `numbers` filled in."""
    nb = nbformat.from_dict(student)
    for n in numbers:
        e_ref = next(e for e in find_exercises(ref) if e.number == n)
        e_st = next(e for e in find_exercises(nb) if e.number == n)
        nb.cells[e_st.answer_cells[0]].source = ref.cells[e_ref.answer_cells[0]].source
    return nb


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """Chapter 01: two honest students, the issue's three attacks, two other tamperers, a memory hog, a flood."""
    def build(student, ref, subs, out):
        return {
            "honest_a": ref, "honest_b": partial_answers(student, ref, (1, 2)),
            "strip_asserts": with_code(student, 1, STRIP_ASSERTS),
            "read_solutions": with_code(student, 4, READ_SOLUTIONS.format(ref=str(CH01)), after=True),
            "destroy_others": with_code(student, 1, DESTROY_OTHERS.format(subs=str(subs), out=str(out))),
            "ast_no_asserts": with_code(student, 1, AST_NO_ASSERTS),
            "patched_abs": with_code(with_code(with_code(student, 1, PATCHED_ABS), 1, "def gap_at_best(h):\n    return 0.0",
                                               after=True), 3, "def flipped_fraction(a, b):\n    return 0.0", after=True),
            "flood": with_code(ref, 1, FLOOD, after=True),
            "memory_hog": with_code(ref, 1, MEMORY_HOG, after=True),
        }
    return grade_class(tmp_path_factory.mktemp("hostile"), build)


@pytest.fixture(scope="module")
def hostile_more(tmp_path_factory):
    """Chapter 01: two more ways of tampering (error swallowing, a patched kernel) next to an honest student."""
    def build(student, ref, subs, out):
        return {"honest_c": partial_answers(student, ref, (3, 4)),
                "swallow_errors": with_code(student, 1, SWALLOW_ERRORS),
                "patched_kernel": with_code(student, 1, PATCHED_KERNEL)}
    return grade_class(tmp_path_factory.mktemp("hostile_more"), build)


@needs_bwrap
class TestHostileClass:
    """Chapter 01 in the bubblewrap sandbox: attacks earn nothing, neighbours keep their marks and files."""

    def test_honest_neighbours(self, hostile):
        """The honest students keep full (and partial) marks, with no note."""
        rows = hostile["rows"]
        assert int(rows["honest_a"]["total"]) == hostile["n"] and rows["honest_a"]["message"] == "", rows["honest_a"]
        assert [rows["honest_b"][f"ex{n}"] for n in (1, 2, 3, 4)] == ["pass", "pass", "fail", "fail"], rows["honest_b"]

    @pytest.mark.parametrize("name", ["strip_asserts", "ast_no_asserts", "patched_abs"])
    def test_tampering_detected(self, hostile, name):
        """Each way of changing how checks run: no exercise passes and the row says tampered."""
        row = hostile["rows"][name]
        assert int(row["total"]) == 0 and "tampered" in row["message"], row
        assert any("tampered" in row[f"ex{n}_message"] for n in (1, 2, 3, 4)), row

    def test_cannot_read_solutions(self, hostile):
        """The reference notebook is not visible from inside the sandbox: exercise 4 stays unsolved."""
        row = hostile["rows"]["read_solutions"]
        assert int(row["total"]) == 0 and row["ex4"] == "fail" and "NotImplementedError" in row["ex4_message"], row

    def test_files_untouched(self, hostile):
        """No submission changed any file in the submissions folder; every student got a row."""
        assert hostile["after"] == hostile["before"]
        assert sorted(hostile["rows"]) == sorted(p.removesuffix(".ipynb") for p in hostile["before"])
        assert int(hostile["rows"]["destroy_others"]["total"]) == 0

    def test_output_flood(self, hostile):
        """100 MB of prints: the row keeps its marks, a note says so, the kept notebook holds a truncated output."""
        row = hostile["rows"]["flood"]
        assert int(row["total"]) == hostile["n"] and "truncated" in row["message"], row
        kept = hostile["keep"] / "flood.ipynb"
        assert kept.stat().st_size < 5 * 10**6
        assert "[grader: output over" in kept.read_text()

    def test_memory_hog(self, hostile):
        """Allocating 6 GB under the 4 GB cap: MemoryError in the note, marks kept."""
        row = hostile["rows"]["memory_hog"]
        assert int(row["total"]) == hostile["n"] and "MemoryError" in row["message"], row


@needs_bwrap
@pytest.mark.slow
class TestHostileMore:
    """Two more tampering methods (slow: a second class run)."""

    @pytest.mark.parametrize("name", ["swallow_errors", "patched_kernel"])
    def test_tampering_detected(self, hostile_more, name):
        """Error swallowing with token echo, and a kernel whose execute handler drops asserts: tampered, 0 marks."""
        row = hostile_more["rows"][name]
        assert int(row["total"]) == 0 and "tampered" in row["message"], row

    def test_honest_neighbour(self, hostile_more):
        """The honest student next to them keeps exercises 3 and 4."""
        row = hostile_more["rows"]["honest_c"]
        assert [row[f"ex{n}"] for n in (1, 2, 3, 4)] == ["fail", "fail", "pass", "pass"] and row["message"] == "", row


class TestCanaries:
    """The planted cells: canaries fail in an honest run, and grader cells never leave the grader."""

    def test_plan_layout(self):
        """Each check gets a whole-check canary before and after it, plus one per assert that reads a decoy."""
        ref = nbformat.read(CH01, as_version=4)
        exercises = find_exercises(ref)
        nb, plan, missing = plant(ref, ref, exercises)
        assert missing == [] and sorted(plan.checks) == [e.number for e in exercises]
        roles = [c.metadata.get("regviz_grader", {}).get("role") for c in nb.cells]
        assert roles.count("check") == len(exercises)
        for e in exercises:
            source = ref.cells[e.check_cell].source
            per_assert = tainted_asserts(source, decoy_names(ref, e))
            assert per_assert, e  # every chapter-01 assert reads the answer, directly or through a variable
            canaries = [c for c in nb.cells if c.metadata.get("regviz_grader", {}).get("role") == "canary"
                        and c.metadata["regviz_grader"]["exercise"] == e.number]
            assert len(canaries) == 2 + len(per_assert)
            whole = [c for c in canaries if c.metadata["regviz_grader"]["variant"] == "all"]
            assert len(whole) == 2 and all(c.source.startswith(source) for c in whole)
        assert len(set(plan.checks.values()) | set(plan.canaries)) == len(plan.checks) + len(plan.canaries)
        assert not any(t in CH01.read_text() for t in plan.canaries)

    def test_taint(self):
        """An assert counts when it reads the answer directly or through a variable computed from it."""
        src = "# CHECK exercise 9\nout = f(2)\nk = 3\nassert out == 4\nassert k == 3\nfor v in [f(1)]:\n    assert v"
        assert tainted_asserts(src, ["f"]) == [0, 2]
        # a name bound inside a block and used after it (ast.walk reaches the outer use first)
        assert tainted_asserts("for _ in range(1):\n    a = f()\nb = a\nassert b > 0\nassert a > 0", ["f"]) == [0, 1]
        assert "assert k == 3" not in only_assert(src, 0) and "assert out == 4" in only_assert(src, 0)

    @needs_bwrap
    def test_canaries_fail_honestly(self):
        """Run honestly on the reference, every canary of chapter 01 fails (so none is ever ignored)."""
        assert honest_canaries(CH01, box=sb.Sandbox(), quick=True, parameters=None, hide=[], threads=1, timeout=300,
                         total_timeout=900, kernel_name="python3", output_limit=10**6) == set()


@needs_bwrap
class TestSandboxNone:
    """--sandbox none runs, warns, and every row carries a note."""

    def test_note_on_every_row(self, tmp_path):
        """The toy chapter graded without isolation: a warning, a note on both rows, marks as usual."""
        ref = make_chapter(tmp_path / "notebooks")
        subs = tmp_path / "subs"
        subs.mkdir()
        nbformat.write(nbformat.read(ref, as_version=4), subs / "a.ipynb")
        nbformat.write(release_notebook(nbformat.read(ref, as_version=4), chapter=ref.stem), subs / "b.ipynb")
        log = tmp_path / "log.txt"
        with open(log, "w") as f:
            grades = grade(subs, tmp_path / "g.csv", chapter=ref.stem, notebooks=ref.parent, jobs=min(2, os.cpu_count()),
                           sandbox="none", timeout=60, log=f)
        assert "warning: --sandbox none" in log.read_text()
        assert all("without a sandbox" in g.note for g in grades)
        assert {g.student: g.total for g in grades} == {"a": 3, "b": 0}


class TestArguments:
    """Sandbox and memory arguments: one line on stderr, exit status 2."""

    @pytest.mark.parametrize("extra, words", [
        (["--sandbox", "foo"], "invalid choice: 'foo'"),
        (["--memory", "0"], "memory '0'"),
        (["--memory", "lots"], "memory 'lots'"),
    ])
    def test_bad_values(self, tmp_path, capsys, extra, words):
        """Unknown sandbox, zero or unreadable memory: exit 2, one stderr line, no CSV."""
        (tmp_path / "subs").mkdir()
        nbformat.write(nbformat.read(CH01, as_version=4), tmp_path / "subs" / "x.ipynb")
        with pytest.raises(SystemExit) as exc:
            main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "g.csv"), "--chapter", "01", *extra])
        err = capsys.readouterr().err.strip()
        assert exc.value.code == 2 and len(err.splitlines()) == 1 and words in err, err
        assert not (tmp_path / "g.csv").exists()

    def test_no_sandbox_available(self, tmp_path, capsys, monkeypatch):
        """Without bubblewrap and without --sandbox: exit 2 with one line saying how to install it or pass --sandbox none."""
        monkeypatch.setattr(sb, "bwrap_works", lambda: False)
        (tmp_path / "subs").mkdir()
        nbformat.write(nbformat.read(CH01, as_version=4), tmp_path / "subs" / "x.ipynb")
        code = main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "g.csv"), "--notebooks", str(CH01.parent),
                     "--chapter", "01"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1, err
        assert "apt-get install bubblewrap" in err and "--sandbox none" in err
        assert not (tmp_path / "g.csv").exists()

    @pytest.mark.parametrize("kind", ["docker", "podman"])
    def test_container_missing(self, tmp_path, capsys, monkeypatch, kind):
        """docker/podman without a client or daemon: exit 2 naming the image build command."""
        monkeypatch.setattr(sb.shutil, "which", lambda name: None)
        (tmp_path / "subs").mkdir()
        nbformat.write(nbformat.read(CH01, as_version=4), tmp_path / "subs" / "x.ipynb")
        code = main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "g.csv"), "--notebooks", str(CH01.parent),
                     "--chapter", "01", "--sandbox", kind])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and f"{kind} build" in err, err

    def test_output_inside_submissions(self, tmp_path, capsys):
        """The CSV may not be written into the submissions folder."""
        (tmp_path / "subs").mkdir()
        nbformat.write(nbformat.read(CH01, as_version=4), tmp_path / "subs" / "x.ipynb")
        code = main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "subs" / "g.csv"), "--chapter", "01",
                     "--notebooks", str(CH01.parent)])
        err = capsys.readouterr().err.strip()
        assert code == 2 and "inside the submissions folder" in err and not (tmp_path / "subs" / "g.csv").exists()

    def test_parse_memory(self):
        """Sizes in decimal and binary units; too small or not a size is a ValueError."""
        assert sb.parse_memory("4G") == 4 * 10**9 and sb.parse_memory("512Mi") == 512 * 2**20
        assert sb.parse_memory("3000000000") == 3 * 10**9
        for bad in ("0", "-1G", "10M", "four"):
            with pytest.raises(ValueError):
                sb.parse_memory(bad)


PROBE = """
import json, os, socket, sys
def can(f):
    try:
        f()
        return True
    except Exception:
        return False
def read(path):
    try:
        return open(path, "rb").read().decode(errors="replace")
    except OSError as e:
        return f"unreadable: {e}"
s = socket.socket()
s.settimeout(2)
print(json.dumps({
    "network": can(lambda: s.connect(("127.0.0.1", int(sys.argv[3])))),  # the grader's loopback
    "reference": can(lambda: open(sys.argv[1]).read()),
    "submissions": can(lambda: os.listdir(sys.argv[2])),
    "scratch": can(lambda: open("probe.txt", "w").write("x")),
    "venv_write": can(lambda: open(os.path.join(sys.prefix, "probe.txt"), "w")),
    "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "env": sorted(os.environ),
    "init_environ": read("/proc/1/environ"),
    "uid": (os.getuid(), os.getgid()),
    "shadow": can(lambda: open("/etc/shadow").read()),
    "shm_bytes": os.statvfs("/dev/shm").f_blocks * os.statvfs("/dev/shm").f_frsize,
}))
"""


@needs_bwrap
def test_isolation_probe(tmp_path):
    """Inside bwrap: no network, no reference or submissions, the scratch folder writable, the environment read-only."""
    import json
    import subprocess

    import socket

    scratch, subs = tmp_path / "scratch", tmp_path / "subs"
    scratch.mkdir()
    subs.mkdir()
    (subs / "alice.ipynb").write_text("{}")
    server = socket.create_server(("127.0.0.1", 0))  # reachable from this process, not from the sandbox
    args = [sys.executable, "-c", PROBE, str(CH01), str(subs), str(server.getsockname()[1])]
    with server:
        outside = json.loads(subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=scratch).stdout)
        argv = sb.bwrap_command(args, scratch, hide=[subs], env={"HOME": str(scratch), "PATH": "/usr/bin:/bin"})
        probe = json.loads(subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout)
    assert outside["network"] and outside["reference"] and outside["submissions"], outside  # the probe can see
    assert probe["scratch"] and (scratch / "probe.txt").exists(), probe
    assert not (probe["network"] or probe["reference"] or probe["submissions"] or probe["venv_write"]), probe
    assert probe["processes"] == [1, 2], probe  # its own PID namespace: bwrap's init and the probe
    assert set(probe["env"]) <= {"HOME", "PATH", "PWD", "LC_CTYPE"}, probe  # nothing of the grader's environment
    assert probe["init_environ"] == "", probe["init_environ"][:200]  # bwrap's own (PID 1) environment is empty too
    assert probe["uid"] == [sb.SANDBOX_UID, sb.SANDBOX_UID] and not probe["shadow"], probe  # not root inside
    assert 0 < probe["shm_bytes"] <= 16 * 2**20, probe  # /dev/shm is a small tmpfs, not half the RAM


class TestCommands:
    """The sandbox command lines: what is mounted, hidden and limited."""

    def test_bwrap_mounts(self, tmp_path):
        """Only the scratch folder is writable; no network; the environment read-only; hidden folders covered."""
        hidden = Path(sys.prefix) / "share"  # a folder inside a read-only mount
        argv = sb.bwrap_command(["python", "-V"], tmp_path, hide=[hidden, tmp_path.parent / "elsewhere"],
                                env={"HOME": str(tmp_path)})
        assert "--unshare-all" in argv and "--cap-drop" in argv and "--clearenv" in argv
        binds = [argv[i + 1] for i, a in enumerate(argv) if a == "--bind"]
        assert binds == [str(tmp_path)]
        ro = [argv[i + 1] for i, a in enumerate(argv) if a == "--ro-bind"]
        assert str(Path(sys.prefix).resolve()) in ro and str(ROOT / "regviz") in ro and str(ROOT) not in ro
        tmpfs = [argv[i + 1] for i, a in enumerate(argv) if a == "--tmpfs"]
        if hidden.is_dir():
            assert str(hidden.resolve()) in tmpfs
        assert argv[-3:] == ["--", "python", "-V"]

    def test_container_command(self, tmp_path):
        """docker/podman: no network, memory and pids capped, only the scratch folder mounted."""
        box = sb.Sandbox(kind="podman", memory=2 * 10**9, nproc=64)
        argv = sb.kernel_command(box, ["/x/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], tmp_path)
        assert argv[:2] == ["podman", "run"] and "none" == argv[argv.index("--network") + 1]
        assert argv[argv.index("--memory") + 1] == str(2 * 10**9) and argv[argv.index("--pids-limit") + 1] == "64"
        assert [argv[i + 1] for i, a in enumerate(argv) if a == "-v"] == [f"{tmp_path}:{tmp_path}"]
        assert sb.DEFAULT_IMAGE in argv and argv[-4:] == ["-m", "ipykernel_launcher", "-f", "{connection_file}"]


GRADE_AND_MEASURE = """
import resource, sys, nbformat
from regviz.homework.grade import grade_notebook
nb = nbformat.read(sys.argv[1], as_version=4)
nb.cells[2].source += sys.argv[3]
g = grade_notebook(nbformat.writes(nb).encode(), sys.argv[2], student="x", timeout=120, honest=set())
print(g.total, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


@needs_bwrap
def test_flood_keeps_grader_memory_flat(tmp_path):
    """A cell printing 100 MB at once: the grading process peaks no higher than for the same notebook without it."""
    import subprocess

    ref = make_chapter(tmp_path / "notebooks")
    peaks = {}
    for name, extra in (("quiet", ""), ("flood", "\nprint('x' * 100_000_000)")):
        run = subprocess.run([sys.executable, "-c", GRADE_AND_MEASURE, str(ref), str(ref), extra],
                             capture_output=True, text=True, timeout=300)
        total, peaks[name] = map(int, run.stdout.split()[-2:])
        assert total == 3, run.stdout + run.stderr[-2000:]
    assert peaks["flood"] - peaks["quiet"] < 50, peaks  # MB; without the cap the 100 MB message costs ~300 MB


def with_data_cell_code(tmp_path, code: str):
    """The test chapter's reference and a student copy whose data cell ends with ``code`` (notebook bytes)."""
    ref = make_chapter(tmp_path / "notebooks")
    nb = nbformat.read(ref, as_version=4)
    nb.cells[2].source += "\n" + code
    return ref, nbformat.writes(nb).encode()


def kept_output_text(keep, student: str) -> str:
    """All text outputs of the ``--keep`` copy of ``student``'s graded notebook."""
    kept = nbformat.read(keep / f"{student}.ipynb", as_version=4)
    return "".join(o.get("text", "") for c in kept.cells for o in c.get("outputs", []))


FORK_BOMB = """
import os, time
_n = 0
try:
    for _ in range(2000):
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        _n += 1
except OSError:
    pass
print("forked", _n)
"""


@needs_bwrap
def test_fork_bomb_is_capped(tmp_path):
    """Forking 2000 processes stops at the process cap (a pids cgroup, or RLIMIT_NPROC for ordinary users)."""
    probe = kernel_cgroups(64)
    if probe is not None:
        probe.remove()
    if os.geteuid() == 0 and not (probe and probe.pids):
        pytest.skip("grading as root without a writable pids cgroup: no process cap to test")
    ref, submission = with_data_cell_code(tmp_path, FORK_BOMB)
    box = sb.Sandbox(nproc=64)
    g = grade_notebook(submission, ref, student="bomb", timeout=60, honest=set(), sandbox=box, keep=tmp_path / "keep")
    text = kept_output_text(tmp_path / "keep", "bomb")
    forked = int(text.split("forked ")[1].split()[0])
    assert forked < 64 and g.total == 3, (forked, g)


SHARED_HOG = """
import mmap
_m = mmap.mmap(-1, 2 * 2**30, flags=mmap.MAP_SHARED)  # not counted by RLIMIT_DATA
for _i in range(0, len(_m), 2**26):
    _m[_i:_i + 2**26] = b"x" * 2**26
print("wrote 2 GiB")
"""


@needs_bwrap
def test_shared_mapping_is_capped(tmp_path):
    """A 2 GiB shared anonymous mapping under --memory 512M: the memory cgroup kills the kernel at
    512 MiB + disk + headroom; the row says so and the cell after it did not print."""
    probe = kernel_cgroups(64, 2**30)
    if probe is not None:
        probe.remove()
    if not (probe and probe.memory):
        pytest.skip("no writable memory cgroup here: the cap is RLIMIT_DATA only (the README says so)")
    ref, submission = with_data_cell_code(tmp_path, SHARED_HOG)
    box = sb.Sandbox(memory=512 * 2**20, disk=64 * 2**20)
    g = grade_notebook(submission, ref, student="shm", timeout=60, honest=set(), sandbox=box, keep=tmp_path / "keep")
    assert "killed at the sandbox memory cap" in g.note and g.total == 0, g
    assert "wrote 2 GiB" not in kept_output_text(tmp_path / "keep", "shm")


@needs_bwrap
def test_total_timeout_kills_the_sandbox(tmp_path):
    """Past --total-timeout the sandboxed kernel is killed: the row says so and later checks did not run."""
    import psutil

    ref, submission = with_data_cell_code(tmp_path, "while True:\n    pass")  # never finishes; the cell limit is longer
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    g = grade_notebook(submission, ref, student="spin", timeout=60, total_timeout=6, honest=set())
    assert "over its 6 s limit" in g.note and g.total == 0, g
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before  # no kernel or bwrap left behind


@needs_bwrap
def test_grade_notebook_from_memory(tmp_path):
    """grade_notebook accepts the submission's bytes (what grade() passes after reading the folder up front)."""
    ref = make_chapter(tmp_path / "notebooks")
    g = grade_notebook(ref.read_bytes(), ref, student="mem", timeout=60)
    assert g.student == "mem" and g.total == 3 and g.note == "", g


@pytest.mark.parametrize("kind", ["none", pytest.param("bwrap", marks=needs_bwrap)])
def test_kernel_is_stopped_after_the_run(tmp_path, kind, monkeypatch):
    """A finished notebook leaves no kernel (or sandbox) process behind, also without a pids cgroup to empty
    (an ordinary user's grader has none)."""
    import psutil

    from regviz.homework import execute
    from regviz.homework.execute import run_notebook

    monkeypatch.setattr(execute, "kernel_cgroups", lambda nproc, memory=None: None)

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os\nprint(os.getpid())")])
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    _, statuses, notes = run_notebook(nb, box=sb.Sandbox(kind=kind), scratch=scratch, timeout=60, total_timeout=120)
    assert "ok" in statuses.values(), (statuses, notes)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
                and p.status() != psutil.STATUS_ZOMBIE]
        if not left:
            break
        time.sleep(0.2)
    assert not left, [p.cmdline()[:3] for p in left]


# Kernels that lie about their asserts and tell canaries from real checks: a canary comes right after a setup cell
# that snapshots globals(), a real check does not. Both ran the real checks without their asserts and scored 4/4
# before differential grading (issue 19).
LYING_TRANSFORMER = """
_seen = {"prev": "", "cur": ""}
def _drop_real(lines):
    code = "".join(lines)
    if code != _seen["cur"]:  # IPython may transform a cell more than once
        _seen["prev"], _seen["cur"] = _seen["cur"], code
    if code.lstrip().startswith("# CHECK exercise") and "dict(globals())" not in _seen["prev"]:
        return [line for line in lines if not line.lstrip().startswith("assert")]
    return lines
get_ipython().input_transformers_cleanup.append(_drop_real)
"""
LYING_KERNEL = """
_kernel = get_ipython().kernel
_orig_execute = _kernel.do_execute
_seen = {"prev": ""}
async def _do_execute(code, *args, **kwargs):
    prev, _seen["prev"] = _seen["prev"], code
    if code.lstrip().startswith("# CHECK exercise") and "dict(globals())" not in prev:
        code = code.strip().split("\\n")[-1]  # only the line that prints the success token
    return await _orig_execute(code, *args, **kwargs)
_kernel.do_execute = _do_execute
"""


@pytest.fixture(scope="module")
def liars(tmp_path_factory):
    """Chapter 01: an honest student beside two lying kernels that solved exercise 2 only."""
    def build(student, ref, subs, out):
        solved_2 = partial_answers(student, ref, (2,))
        return {"honest": ref, "lying_transformer": with_code(solved_2, 1, LYING_TRANSFORMER),
                "lying_kernel": with_code(solved_2, 1, LYING_KERNEL)}
    return grade_class(tmp_path_factory.mktemp("liars"), build)


@needs_bwrap
class TestLyingKernel:
    """Marks come from the grader's own comparison of probe values, not from what the kernel says of its asserts."""

    @pytest.mark.parametrize("name", ["lying_transformer", "lying_kernel"])
    def test_scores_only_what_it_solved(self, liars, name):
        """Exercises 1, 3, 4 unsolved: failed by the probes; exercise 2, solved, passes."""
        row = liars["rows"][name]
        assert [row[f"ex{n}"] for n in (1, 2, 3, 4)] == ["fail", "pass", "fail", "fail"], row
        assert all("NotImplementedError" in row[f"ex{n}_message"] or "NameError" in row[f"ex{n}_message"]
                   for n in (1, 3, 4)), row

    @pytest.mark.parametrize("name", ["lying_transformer", "lying_kernel"])
    def test_the_lie_is_named(self, liars, name):
        """The canaries did not catch them (the checks 'passed' in the kernel); the row says the probes disagree."""
        row = liars["rows"][name]
        assert "tampered" not in row["message"], row
        assert "differential check failed" in row["ex1_message"] and "fail the grader's own probes" in row["message"], row

    def test_honest_keeps_full_marks(self, liars):
        """The honest student beside them: 4/4, no note, file unchanged."""
        row = liars["rows"]["honest"]
        assert int(row["total"]) == liars["n"] and row["message"] == "", row
        assert liars["after"] == liars["before"]


BIG_DISPLAY = "from IPython.display import display\ndisplay({'text/plain': 'x' * 5_000_000}, raw=True)"


@needs_bwrap
def test_oversized_message_is_dropped(tmp_path):
    """A 5 MB display message under a 1 MB message cap: dropped before decoding, noted, marks kept."""
    ref, submission = with_data_cell_code(tmp_path, BIG_DISPLAY)
    g = grade_notebook(submission, ref, student="big", timeout=60, honest=set(), message_limit=10**6,
                       keep=tmp_path / "keep")
    assert g.total == 3 and "1 kernel message(s) over 1,000,000 bytes dropped unread" in g.note, g
    kept = (tmp_path / "keep" / "big.ipynb").read_text()
    assert "dropped unread" in kept and "x" * 10_000 not in kept


DISK_FILL = """
import errno
try:
    with open("fill.bin", "wb") as _f:
        for _ in range(64):
            _f.write(b"x" * 2**20)
            _f.flush()
    print("wrote 64 MB")
except OSError as _e:
    print("disk full:", errno.errorcode.get(_e.errno))
"""


@needs_bwrap
def test_scratch_disk_is_capped(tmp_path):
    """Writing 64 MB into a 32 MB scratch fails inside the kernel (ENOSPC or the file-size cap); the row comes back."""
    ref, submission = with_data_cell_code(tmp_path, DISK_FILL)
    g = grade_notebook(submission, ref, student="fill", timeout=60, honest=set(), sandbox=sb.Sandbox(disk=32 * 2**20),
                       keep=tmp_path / "keep")
    text = kept_output_text(tmp_path / "keep", "fill")
    assert g.total == 3 and "disk full: E" in text and "wrote 64 MB" not in text, (g, text[-2000:])


SOCKET_FOLDER = """
import os, time
from ipykernel import get_connection_file
open(os.path.join(os.path.dirname(get_connection_file()), "junk.bin"), "wb").write(b"x" * 1000)
time.sleep(20)
"""


@needs_bwrap
def test_socket_folder_stays_clean(tmp_path):
    """A file written next to the kernel's sockets (the one folder without a size cap) stops the kernel, noted."""
    ref = make_chapter(tmp_path / "notebooks")
    nb = nbformat.read(ref, as_version=4)
    ex3 = next(e for e in find_exercises(nb) if e.number == 3)
    nb.cells[ex3.answer_cells[0]].source += "\n" + SOCKET_FOLDER
    g = grade_notebook(nbformat.writes(nb).encode(), ref, student="sock", timeout=60, honest=set())
    assert "wrote into the grader's socket folder" in g.note and [g.passed[n] for n in (1, 2, 3)] == [True, True, False], g
