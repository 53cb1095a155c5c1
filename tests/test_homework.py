"""Homework kit: release strips solutions, grade runs every submission and writes the expected CSV."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from regviz.homework import find_exercises, grade, needed_cells, release, release_notebook, slice_notebook
from regviz.homework.__main__ import main
from regviz.homework.grade import grade_notebook
from regviz.homework.release import CODE_STUB
from regviz.homework.sandbox import bwrap_works

# The grader's default sandbox is bubblewrap (make test installs it); where it cannot run, these tests still
# exercise the grading logic unsandboxed. tests/test_homework_sandbox.py covers the sandbox itself.
SANDBOX = None if bwrap_works() else "none"

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("0[0-9]_*.ipynb"))
PY = sys.executable

# The synthetic chapter: three trivial exercises; exercise 3 reads results/ relative to the chapter folder.
ANSWERS = {
    1: "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
    2: "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
    3: "### BEGIN SOLUTION\nscale = 2 * DATA[\"scale\"]\n### END SOLUTION",
}
CHECKS = {
    1: "# CHECK exercise 1\nassert double(3) == 6, \"double(3) should be 6\"",
    2: "# CHECK exercise 2\nassert square(4) == 16, \"square(4) should be 16\"\nassert square(-3) == 9",
    3: "# CHECK exercise 3\nassert FAST, \"grading runs in FAST mode\"\nassert scale == 6, \"scale should be 2 * DATA['scale']\"",
}


def make_chapter(folder: Path) -> Path:
    """Write notebooks/09_toy.ipynb and notebooks/results/toy.json; return the notebook path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results").mkdir(exist_ok=True)
    (folder / "results" / "toy.json").write_text(json.dumps({"scale": 3}))
    params = new_code_cell('FAST = os.environ.get("REGVIZ_FAST", "0") == "1"')
    params.metadata["tags"] = ["parameters"]
    cells = [new_code_cell("import json\nimport os"), params,
             new_code_cell('DATA = json.loads(open("results/toy.json").read())\nprint(DATA)'),
             new_markdown_cell("## Exercises")]
    for n, title in [(1, "double"), (2, "square"), (3, "scale")]:
        cells += [new_markdown_cell(f"### Exercise {n}: {title}"), new_code_cell(ANSWERS[n]), new_code_cell(CHECKS[n])]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    path = folder / "09_toy.ipynb"
    nbformat.write(nb, path)
    return path


def fill(nb, answers: dict[int, str]):
    """A student's work: replace the stub of exercise n by answers[n] (same indentation)."""
    nb = nbformat.from_dict(nb)
    for ex in find_exercises(nb):
        if ex.number in answers:
            cell = nb.cells[ex.answer_cells[0]]
            lines = cell.source.split("\n")
            i = next(k for k, line in enumerate(lines) if line.strip() == CODE_STUB[0])
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            body = [indent + a for a in answers[ex.number].split("\n")]
            cell.source = "\n".join(lines[:i] + body + lines[i + 2:])
    return nb


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The synthetic chapter and its released student copy."""
    base = tmp_path_factory.mktemp("hw")
    ref = make_chapter(base / "notebooks")
    written = release(base / "notebooks", base / "student")
    return base, ref, written[0]


class TestRelease:
    """Student copies: solutions become stubs, outputs go, everything else stays."""

    def test_toy_stubs_and_metadata(self, toy):
        """Each solution block becomes the two stub lines at its indentation; the chapter is recorded."""
        _, ref, student_path = toy
        student = nbformat.read(student_path, as_version=4)
        sources = [c.source for c in student.cells]
        assert "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()" in sources
        assert "# YOUR CODE HERE\nraise NotImplementedError()" in sources
        assert student.metadata["regviz"]["chapter"] == "09_toy"
        reference = nbformat.read(ref, as_version=4)
        assert len(student.cells) == len(reference.cells)
        assert all(s.source == r.source for s, r in zip(student.cells, reference.cells) if "SOLUTION" not in r.source)
        assert (student_path.parent / "results" / "toy.json").exists()

    def test_unbalanced_markers(self):
        """A BEGIN without END is a ValueError naming the cell."""
        nb = new_notebook(cells=[new_code_cell("### BEGIN SOLUTION\nx = 1")])
        with pytest.raises(ValueError, match="cell 0"):
            release_notebook(nb)

    @pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
    def test_real_chapter(self, path):
        """Every chapter: 3-5 exercises with checks, no solution text left, one stub per solution block."""
        ref = nbformat.read(path, as_version=4)
        exercises = find_exercises(ref)
        assert 3 <= len(exercises) <= 5, [e.number for e in exercises]
        assert all(e.check_cell is not None and e.answer_cells for e in exercises)
        student = release_notebook(ref, chapter=path.stem)
        assert [e.number for e in find_exercises(student)] == [e.number for e in exercises]
        text = "\n".join(c.source for c in student.cells)
        student_lines = {line.strip() for line in text.split("\n")}
        assert not student_lines & {"### BEGIN SOLUTION", "### END SOLUTION"}
        solution_lines, other_lines, blocks, inside = set(), set(), 0, False
        for cell in ref.cells:
            for line in cell.source.split("\n"):
                if line.strip() == "### BEGIN SOLUTION":
                    inside, blocks = True, blocks + 1
                elif line.strip() == "### END SOLUTION":
                    inside = False
                else:
                    (solution_lines if inside else other_lines).add(line.strip())
        assert blocks >= len(exercises)
        leaked = {s for s in solution_lines - other_lines if s} & student_lines
        assert solution_lines and not leaked, leaked
        assert text.count("raise NotImplementedError()") - "\n".join(other_lines).count("raise NotImplementedError()") == blocks
        assert all(c.outputs == [] and c.execution_count is None for c in student.cells if c.cell_type == "code")


class TestSlicing:
    """needed_cells keeps what the exercises read and drops the rest."""

    def test_names_and_scopes(self):
        """Cells are kept through the names the targets read; parameters and comprehension variables are not reads."""
        nb = new_notebook(cells=[
            new_code_cell("import torch"),                          # 0 needed by 4
            new_code_cell("slow = [h for h in range(10**6)]"),      # 1 not needed (h is local)
            new_code_cell("a = 1"),                                 # 2 needed (a += 1 reads it)
            new_code_cell("a += 1\nh = 3"),                         # 3 needed
            new_code_cell("def f(h):\n    return torch.tensor(a + h)"),  # 4 target
            new_code_cell("b = f(2)"),                              # 5 target
        ])
        assert needed_cells(nb, [4, 5]) == [0, 2, 3, 4, 5]

    def test_toy(self, toy):
        """The toy chapter needs all its code cells."""
        _, ref, _ = toy
        nb = nbformat.read(ref, as_version=4)
        assert len(slice_notebook(nb).cells) == len(nb.cells)


def read_csv(path):
    with open(path, newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def graded(toy):
    """The toy class graded into grades.csv."""
    base, ref, student_path = toy
    student = nbformat.read(student_path, as_version=4)
    subs = base / "submissions"
    subs.mkdir()
    nbformat.write(fill(student, {1: "return 2 * x", 2: "return x * x", 3: 'scale = 2 * DATA["scale"]'}), subs / "alice.ipynb")
    bob = fill(student, {1: "return 2 * x", 2: "return x + x", 3: "while True:\n    pass"})
    check2 = next(c for c in bob.cells if c.source.startswith("# CHECK exercise 2"))
    check2.source = "# CHECK exercise 2\nassert True"  # a weakened check is restored from the reference
    nbformat.write(bob, subs / "bob.ipynb")
    (subs / "carol.ipynb").write_text('{"cells": [ this is not json')
    dave = fill(student, {1: "return 2 *", 3: 'scale = 2 * DATA["scale"]'})
    dave.cells = [c for c in dave.cells if not c.source.startswith("# CHECK exercise 2")]
    nbformat.write(dave, subs / "dave.ipynb")
    out = base / "grades.csv"
    grade(subs, out, notebooks=ref.parent, jobs=min(2, os.cpu_count()), timeout=8, sandbox=SANDBOX, log=None)
    return out


class TestGrade:
    """A class of four: correct, partly wrong (wrong answer, weakened check, infinite loop), not JSON, syntax error."""

    def test_columns(self, graded):
        """One row per student, ex<N> and ex<N>_message per exercise, total, message."""
        with open(graded) as f:
            header = f.readline().strip().split(",")
        assert header == ["student", "ex1", "ex1_message", "ex2", "ex2_message", "ex3", "ex3_message", "total", "message"]
        assert sorted(read_csv(graded)) == ["alice", "bob", "carol", "dave"]

    def test_marks(self, graded):
        """Pass/fail per exercise and the total match what each submission deserves."""
        rows = read_csv(graded)
        marks = {s: ([rows[s][f"ex{n}"] for n in (1, 2, 3)], int(rows[s]["total"])) for s in rows}
        assert marks == {
            "alice": (["pass", "pass", "pass"], 3),
            "bob": (["pass", "fail", "fail"], 1),
            "carol": (["fail", "fail", "fail"], 0),
            "dave": (["fail", "fail", "pass"], 1),
        }

    def test_messages(self, graded):
        """Messages carry the assertion text, the timeout, the syntax error, the missing check, the bad file."""
        rows = read_csv(graded)
        unsandboxed = "graded without a sandbox (--sandbox none)"
        assert rows["alice"]["ex1_message"] == "" and rows["alice"]["message"] == ("" if SANDBOX is None else unsandboxed)
        assert rows["bob"]["ex2_message"] == "AssertionError: square(4) should be 16"
        assert "time limit" in rows["bob"]["ex3_message"] and "NameError" in rows["bob"]["ex3_message"]
        assert "not a readable notebook" in rows["carol"]["message"]
        assert "SyntaxError" in rows["dave"]["ex1_message"]
        assert rows["dave"]["ex2_message"] == "check cell missing from the submission"

    def test_nbval_route(self, toy, graded):
        """pytest --nbval-lax passes on a completed notebook and fails when one check fails."""
        base = toy[0]
        student = nbformat.read(toy[2], as_version=4)
        work = base / "nbval"
        work.mkdir()
        (work / "results").symlink_to(base / "notebooks" / "results")
        nbformat.write(fill(student, {1: "return 2 * x", 2: "return x * x", 3: 'scale = 2 * DATA["scale"]'}), work / "good.ipynb")
        nbformat.write(fill(student, {1: "return 2 * x", 2: "return x + x", 3: 'scale = 2 * DATA["scale"]'}), work / "bad.ipynb")
        env = {**os.environ, "REGVIZ_FAST": "1"}
        run = subprocess.run([PY, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider", "good.ipynb", "bad.ipynb"],
                             cwd=work, env=env, capture_output=True, text=True, timeout=300)
        failed = [line for line in run.stdout.splitlines() if line.startswith("FAILED")]
        assert run.returncode == 1 and len(failed) == 1 and failed[0].startswith("FAILED bad.ipynb"), run.stdout[-2000:]


class TestCommandLine:
    """Bad arguments: one line on stderr, exit status 2, no traceback."""

    @pytest.mark.parametrize("argv, words", [
        (["release", "no/such/folder", "--out", "x"], "does not exist"),
        (["grade", "no/such/folder", "--out", "x.csv"], "does not exist"),
        (["release", "{empty}", "--out", "{tmp}/out"], "no chapter notebooks"),
        (["grade", "{empty}", "--out", "x.csv"], "no notebooks"),
        (["release", "{nb}", "--out", "{tmp}/out", "--chapter", "42"], "unknown chapter"),
        (["grade", "{subs}", "--out", "{tmp}/g.csv", "--notebooks", "{nb}", "--chapter", "nope"], "unknown chapter"),
        (["grade", "{subs}", "--out", "{tmp}/g.csv", "--notebooks", "{nb}", "--jobs", "0"], "jobs=0"),
        (["grade"], "required"),
    ])
    def test_bad_arguments(self, toy, tmp_path, capsys, argv, words):
        """Each bad argument gives exit status 2 and a single stderr line naming the problem."""
        base = toy[0]
        (tmp_path / "empty").mkdir()
        (tmp_path / "subs").mkdir()
        nbformat.write(nbformat.read(toy[2], as_version=4), tmp_path / "subs" / "x.ipynb")
        fmt = dict(empty=tmp_path / "empty", tmp=tmp_path, nb=base / "notebooks", subs=tmp_path / "subs")
        with pytest.raises(SystemExit) if argv == ["grade"] else _nullcontext() as exc:
            code = main([a.format(**fmt) for a in argv])
        code = exc.value.code if argv == ["grade"] else code
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and words in err, err
        assert not (tmp_path / "g.csv").exists()

    def test_subprocess_no_traceback(self, tmp_path):
        """Through `python -m regviz.homework`: non-zero exit and no traceback."""
        run = subprocess.run([PY, "-m", "regviz.homework", "grade", str(tmp_path / "missing"), "--out", "g.csv"],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 2 and "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1


class _nullcontext:
    value = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


EXECUTED = [pytest.param(p, marks=[] if p.stem.startswith("01_") else [pytest.mark.slow]) for p in CHAPTERS]


@pytest.mark.parametrize("path", EXECUTED, ids=[p.stem for p in CHAPTERS])
def test_reference_passes_student_copy_fails(path, tmp_path):
    """Only the cells the exercises need, FAST: the reference passes every check, the student copy none (01 by default, others -m slow)."""
    subs = tmp_path / "subs"
    subs.mkdir()
    nb = nbformat.read(path, as_version=4)
    nbformat.write(nb, subs / "reference.ipynb")
    nbformat.write(release_notebook(nb, chapter=path.stem), subs / "student.ipynb")
    grades = grade(subs, tmp_path / "g.csv", chapter=path.stem, notebooks=path.parent, jobs=min(2, os.cpu_count()),
                   quick=True, sandbox=SANDBOX, log=None)
    by = {g.student: g for g in grades}
    assert by["reference"].total == len(find_exercises(nb)), by["reference"]
    assert by["student"].total == 0, by["student"]
    assert all("NotImplementedError" in m for m in by["student"].messages.values()), (by["student"].messages,
                                                                                   by["student"].note)


def test_grades_beside_the_notebooks_stay_private(tmp_path):
    """A grades CSV (or any loose file) next to the reference notebooks reaches neither a submission's folder nor
    the released student copies; the chapter's data folders (results/) reach both."""
    ref = make_chapter(tmp_path / "notebooks")
    (ref.parent / "grades.csv").write_text("student,total\nmallory,3\n")
    release(ref.parent, tmp_path / "student")
    assert (tmp_path / "student" / "results" / "toy.json").exists()
    assert not (tmp_path / "student" / "grades.csv").exists()
    spy = "return 2 * x if not __import__('os').path.exists('grades.csv') else 0"
    sub = fill(release_notebook(nbformat.read(ref, as_version=4)), {1: spy, 2: "return x * x",
                                                                      3: 'scale = 2 * DATA["scale"]'})
    g = grade_notebook(nbformat.writes(sub).encode(), ref, student="spy", timeout=60, honest=set(), sandbox=SANDBOX)
    assert g.total == 3, g  # ex1 passes only if grades.csv is absent; ex3 needs results/toy.json


def test_import_needs_no_torch():
    """The grader's machine (and each Dask worker's) needs no torch or regviz.data to import regviz.homework."""
    code = ("import sys, regviz.homework, regviz.homework.__main__; "
            "bad = sorted(m for m in ('torch', 'regviz.data', 'distributed') if m in sys.modules); print(bad)")
    run = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[]", run.stdout
