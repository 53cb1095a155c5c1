"""Hostile submission files (regviz.homework.submissions): each is that student's row, never a stopped run."""
import csv
import os

import nbformat
import pytest

from regviz.homework import grade, release
from regviz.homework.submissions import (Refused, chapter_by_majority, csv_safe, find_submissions,
                                         read_submission)

from test_homework import SANDBOX, fill, make_chapter


class TestReadSubmission:
    """Only regular files of bounded size are read; links are never followed."""

    def test_regular_file(self, tmp_path):
        (tmp_path / "a.ipynb").write_bytes(b"{}")
        assert read_submission(tmp_path / "a.ipynb") == b"{}"

    @pytest.mark.parametrize("kind,words", [
        ("symlink", "symbolic link"), ("dangling", "symbolic link"), ("dir", "folder"),
        ("fifo", "not a regular file"), ("zero", "symbolic link"), ("missing", "cannot be read"),
    ])
    def test_refused(self, tmp_path, kind, words):
        """A link (to a file, to nothing, to /dev/zero), a folder, a FIFO (never opened: no hang), a missing file."""
        target = tmp_path / "real.ipynb"
        target.write_bytes(b"{}")
        p = tmp_path / "x.ipynb"
        {"symlink": lambda: p.symlink_to(target), "dangling": lambda: p.symlink_to(tmp_path / "nowhere"),
         "dir": lambda: p.mkdir(), "fifo": lambda: os.mkfifo(p), "zero": lambda: p.symlink_to("/dev/zero"),
         "missing": lambda: None}[kind]()
        with pytest.raises(Refused, match=words):
            read_submission(p)

    def test_too_big(self, tmp_path):
        p = tmp_path / "big.ipynb"
        p.write_bytes(b" " * 1001)
        with pytest.raises(Refused, match="1,001 bytes, over the 1,000-byte limit"):
            read_submission(p, max_bytes=1000)
        assert read_submission(p, max_bytes=1001) == b" " * 1001


def test_find_lists_every_entry_and_follows_no_link(tmp_path):
    """Files, links, folders and FIFOs named *.ipynb are all listed; hidden ones and linked folders' contents not."""
    (tmp_path / "a.ipynb").write_text("{}")
    (tmp_path / "d.ipynb").mkdir()
    (tmp_path / "d.ipynb" / "inner.ipynb").write_text("{}")
    os.mkfifo(tmp_path / "f.ipynb")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text("{}")
    other = tmp_path.parent / (tmp_path.name + "-elsewhere")
    other.mkdir()
    (other / "secret.ipynb").write_text("{}")
    (tmp_path / "linked").symlink_to(other)
    found = [p.relative_to(tmp_path).as_posix() for p in find_submissions(tmp_path)]
    assert found == ["a.ipynb", "d.ipynb", "f.ipynb"]


class TestChapterByMajority:
    def test_majority_ignores_bad_values(self):
        known = {"01_overfitting", "02_weight_decay"}.__contains__
        chapters = ["01_overfitting", "01_overfitting", "02_weight_decay", 1, None, "../../etc/passwd", ["x"]]
        assert chapter_by_majority(chapters, known) == "01_overfitting"

    def test_tie_and_nothing(self):
        known = {"a", "b"}.__contains__
        with pytest.raises(ValueError, match="pass --chapter"):
            chapter_by_majority(["a", "b"], known)
        with pytest.raises(ValueError, match="no known chapter"):
            chapter_by_majority([1, None, "zzz"], known)


@pytest.mark.parametrize("value,safe", [("=2+3", "'=2+3"), ("+1", "'+1"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"),
                                        ("\tx", "'\tx"), ("\rx", "'\rx"), ("alice", "alice"), (3, 3), ("", "")])
def test_csv_safe(value, safe):
    """OWASP's CSV-injection advice: a leading formula character gets an apostrophe; numbers pass."""
    assert csv_safe(value) == safe


def test_a_hostile_class(tmp_path):
    """Beside one honest student: a link to her file, a dangling link, a folder, a FIFO, a link to /dev/zero, an
    oversized file, an integer and a path-traversal chapter, a formula as a file name. Every one is a row; the
    honest student keeps full marks and her file is unchanged; the chapter is decided by the majority."""
    ref = make_chapter(tmp_path / "notebooks")
    student = nbformat.read(release(tmp_path / "notebooks", tmp_path / "student")[0], as_version=4)
    subs = tmp_path / "subs"
    subs.mkdir()
    honest = fill(student, {1: "return 2 * x", 2: "return x * x", 3: 'scale = 2 * DATA["scale"]'})
    nbformat.write(honest, subs / "alice.ipynb")
    before = (subs / "alice.ipynb").read_bytes()
    (subs / "copier.ipynb").symlink_to(subs / "alice.ipynb")
    (subs / "dangling.ipynb").symlink_to(subs / "nowhere.ipynb")
    (subs / "folder.ipynb").mkdir()
    os.mkfifo(subs / "fifo.ipynb")
    (subs / "zero.ipynb").symlink_to("/dev/zero")
    (subs / "huge.ipynb").write_bytes(b" " * 3000 + nbformat.writes(honest).encode())
    for name, chapter in (("intchapter", 9), ("traversal", "../../etc/passwd")):
        nb = nbformat.from_dict(honest)
        nb.metadata["regviz"] = {"chapter": chapter}
        nbformat.write(nb, subs / f"{name}.ipynb")
    (subs / "=2+3.ipynb").write_text("not json")
    out = tmp_path / "grades.csv"
    grades = grade(subs, out, notebooks=ref.parent, jobs=1, timeout=20, sandbox=SANDBOX, log=None,
                   max_bytes=len(before) + 1000)
    with open(out) as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert sorted(rows) == sorted(["alice", "copier", "dangling", "folder", "fifo", "zero", "huge", "intchapter",
                                   "traversal", "'=2+3"])
    assert len(grades) == 10
    assert rows["alice"]["total"] == "3" and (subs / "alice.ipynb").read_bytes() == before
    for name, words in (("copier", "symbolic link"), ("dangling", "symbolic link"), ("zero", "symbolic link"),
                        ("folder", "folder"), ("fifo", "not a regular file"), ("huge", "byte limit")):
        assert rows[name]["total"] == "0" and words in rows[name]["message"], (name, rows[name]["message"])
    # a wrong chapter in one notebook's metadata is noted in its row; the answers are still graded
    assert rows["intchapter"]["total"] == "3" and "chapter 9" in rows["intchapter"]["message"]
    assert rows["traversal"]["total"] == "3" and "etc/passwd" in rows["traversal"]["message"]
    assert rows["'=2+3"]["total"] == "0"
