"""nbgrader for real: the metadata script, and nbgrader's autograde agreeing with `regviz.homework grade`."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from regviz.homework import find_exercises, grade, release_notebook, slice_notebook
from regviz.homework.nbgrader_meta import add_metadata, apply, main
from regviz.homework.sandbox import bwrap_works

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("0[0-9]_*.ipynb"))
CH01 = ROOT / "notebooks" / "01_overfitting.ipynb"
PY = sys.executable


class TestMetadata:
    """add_metadata: solution, autograder-test and locked cells; nothing else changes; idempotent."""

    @pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
    def test_chapter(self, path):
        """Every answer cell is a solution cell, every check a locked test with a point, statements locked."""
        nb = nbformat.read(path, as_version=4)
        out = add_metadata(nb)
        assert add_metadata(out) == out
        for ex in find_exercises(nb):
            check = out.cells[ex.check_cell].metadata["nbgrader"]
            assert check["grade"] and check["locked"] and check["points"] == 1 and not check["solution"]
            assert check["grade_id"] == f"ex{ex.number}-check"
            answers = [out.cells[i].metadata["nbgrader"] for i in ex.answer_cells if "BEGIN SOLUTION" in out.cells[i].source]
            assert answers and all(a["solution"] and not a["locked"] and not a["grade"] for a in answers)
        ids = [c.metadata["nbgrader"]["grade_id"] for c in out.cells if "nbgrader" in c.metadata]
        assert len(ids) == len(set(ids))
        locked_md = [c for c in out.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("locked")]
        assert len(locked_md) == len(find_exercises(nb))
        for before, after in zip(nb.cells, out.cells):  # outputs and code untouched, marker prose gone
            assert before.get("outputs") == after.get("outputs")
            assert before.source == after.source or (before.cell_type == "markdown" and "BEGIN SOLUTION" in before.source)
            if "nbgrader" not in after.metadata:
                assert "BEGIN SOLUTION" not in after.source

    def test_files_in_place(self, tmp_path):
        """The command updates copies in place, only their metadata and marker prose, and a second run changes nothing."""
        for p in CHAPTERS:
            shutil.copy(p, tmp_path / p.name)
        assert main([str(tmp_path)]) == 0
        assert apply(sorted(tmp_path.glob("*.ipynb")), check=True) == []
        assert main([str(tmp_path), "--check"]) == 0
        nb = nbformat.read(tmp_path / CH01.name, as_version=4)
        for c in nb.cells:
            c.metadata.pop("nbgrader", None)
        nbformat.write(nb, tmp_path / CH01.name)
        assert main([str(tmp_path / CH01.name), "--check"]) == 1

    def test_committed_notebooks_carry_it(self):
        """Once the course's notebooks hold the metadata, it stays complete (a new exercise without it fails here)."""
        if not any("nbgrader" in c.metadata for p in CHAPTERS for c in nbformat.read(p, as_version=4).cells):
            pytest.skip("notebooks/ carries no nbgrader metadata yet: python -m regviz.homework.nbgrader_meta notebooks/")
        assert apply(CHAPTERS, check=True) == []

    @pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
    def test_student_copy_does_not_explain_markers(self, path):
        """Released copies carry no marker text at all, before or after the metadata is added."""
        nb = nbformat.read(path, as_version=4)
        for source in (nb, add_metadata(nb)):
            text = "\n".join(c.source for c in release_notebook(source, chapter=path.stem).cells)
            assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(course / "home"), "REGVIZ_FAST": "1", "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(PY).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # nbgrader runs alembic
           "REGVIZ_DATA": os.environ.get("REGVIZ_DATA", str(Path.home() / ".cache" / "regviz"))}
    run = subprocess.run([PY, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return run


def nbgrader_scores(course: Path, chapter: str, students: list[str]) -> dict:
    """Per student: {exercise number: passed} read from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s: {int(g.name.removeprefix("ex").removesuffix("-check")): g.score == g.max_score
                    for g in gb.find_submission_notebook(chapter, "ps1", s).grades} for s in students}


def autograde_both(tmp_path: Path, path: Path, *, quick: bool) -> tuple[dict, dict]:
    """nbgrader generate_assignment + autograde on the reference and nbgrader's student copy, and our grade on the same two."""
    course = tmp_path / "course"
    src = course / "source" / "ps1"
    src.mkdir(parents=True)
    nb = nbformat.read(path, as_version=4)
    nbformat.write(add_metadata(slice_notebook(nb) if quick else nb), src / path.name)
    shutil.copytree(path.parent / "results", src / "results")
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course / 'gradebook.db'}'\nc.ExecutePreprocessor.timeout = 600\n")
    nbgrader(course, "db", "assignment", "add", "ps1")
    nbgrader(course, "generate_assignment", "ps1", "--force")
    released = course / "release" / "ps1" / path.name
    subs = tmp_path / "subs"
    subs.mkdir()
    for student, notebook in (("reference", src / path.name), ("student", released)):
        folder = course / "submitted" / student / "ps1"
        folder.mkdir(parents=True)
        shutil.copy(notebook, folder / path.name)
        shutil.copytree(src / "results", folder / "results")
        shutil.copy(notebook, subs / f"{student}.ipynb")
    nbgrader(course, "autograde", "ps1", "--create", "--force")
    theirs = nbgrader_scores(course, path.stem, ["reference", "student"])
    grades = grade(subs, tmp_path / "g.csv", chapter=path.stem, notebooks=path.parent, jobs=min(2, os.cpu_count()),
                   quick=True, log=None)
    ours = {g.student: dict(g.passed) for g in grades}
    return theirs, ours


@pytest.mark.skipif(not bwrap_works(), reason="bubblewrap missing: make test installs it")
def test_autograde_agrees_chapter_01(tmp_path):
    """Chapter 01 (the cells its exercises need): nbgrader and regviz agree per exercise, reference all, student copy none."""
    theirs, ours = autograde_both(tmp_path, CH01, quick=True)
    n = len(find_exercises(nbformat.read(CH01, as_version=4)))
    assert theirs == ours, (theirs, ours)
    assert sum(ours["reference"].values()) == n and sum(ours["student"].values()) == 0


@pytest.mark.slow
@pytest.mark.skipif(not bwrap_works(), reason="bubblewrap missing: make test installs it")
def test_autograde_agrees_full_chapter_01(tmp_path):
    """The whole chapter 01 notebook through nbgrader unchanged (slow: two full FAST runs)."""
    theirs, ours = autograde_both(tmp_path, CH01, quick=False)
    assert theirs == ours, (theirs, ours)
