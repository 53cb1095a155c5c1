"""Finding and reading submitted notebooks as untrusted files: every bad file becomes that student's row.

A submission folder is hostile input: links to other students' files or to /dev/zero, FIFOs that block a reader
forever, folders named like notebooks, files of hundreds of megabytes, metadata of the wrong type. Nothing here
follows a symbolic link, opens anything but a regular file, or reads more than a set number of bytes.
"""
from __future__ import annotations

import os
import stat
from collections import Counter
from pathlib import Path

MAX_SUBMISSION_BYTES = 20 * 10**6  # a chapter notebook with full outputs is 0.2-2 MB


class Refused(ValueError):
    """A submission that is not read at all; the message is that student's note."""


def find_submissions(folder: str | Path) -> list[Path]:
    """Every entry named ``*.ipynb`` under ``folder``, whatever it is (file, link, folder, FIFO), sorted.

    Hidden files and folders (``.ipynb_checkpoints``) are skipped; links to folders are listed, never followed.

    Raises:
        ValueError: the folder does not exist or holds no notebooks.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"submission folder {str(folder)!r} does not exist")
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in dirnames + filenames:
            if not name.startswith(".") and name.endswith(".ipynb"):
                found.append(Path(dirpath) / name)
        # never descend into hidden folders or into a folder that is itself a "notebook"
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and not d.endswith(".ipynb")]
    if not found:
        raise ValueError(f"no notebooks (*.ipynb) in {str(folder)!r}")
    return sorted(found)


def read_submission(path: str | Path, max_bytes: int = MAX_SUBMISSION_BYTES) -> bytes:
    """The bytes of one submitted notebook, read without following links and never more than ``max_bytes``.

    Raises:
        Refused: a link, a folder, a FIFO/socket/device, a file over ``max_bytes``, or an unreadable file; the
            message says which, in words for the student's row.
    """
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise Refused(f"not graded: the file cannot be read ({exc.strerror})") from exc
    if stat.S_ISLNK(st.st_mode):
        raise Refused("not graded: a symbolic link, not a notebook file (submit the notebook itself)")
    if stat.S_ISDIR(st.st_mode):
        raise Refused("not graded: a folder named like a notebook")
    if not stat.S_ISREG(st.st_mode):
        raise Refused("not graded: not a regular file (a FIFO, socket or device)")
    if st.st_size > max_bytes:
        raise Refused(f"not graded: {st.st_size:,} bytes, over the {max_bytes:,}-byte limit "
                      "(clear the outputs and resubmit; the instructor can raise --max-size)")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:  # ELOOP: swapped for a link since lstat
        raise Refused(f"not graded: the file cannot be opened ({exc.strerror})") from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # swapped since lstat
            raise Refused("not graded: not a regular file (a FIFO, socket or device)")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew since lstat
        raise Refused(f"not graded: over the {max_bytes:,}-byte limit")
    return data


def chapter_by_majority(chapters: list[object], is_chapter) -> str:
    """The chapter most submissions' metadata names; values that are not a known chapter's name are ignored.

    Args:
        chapters: each readable notebook's ``metadata.regviz.chapter`` (any type; None when absent).
        is_chapter: callable telling whether a string names a chapter of the course.

    Raises:
        ValueError: no valid chapter at all, or a tie between the most common ones (pass --chapter).
    """
    counts = Counter(c for c in chapters if isinstance(c, str) and is_chapter(c))
    ranked = counts.most_common()
    if not ranked:
        raise ValueError("cannot tell which chapter to grade (no known chapter in the notebooks' metadata); "
                         "pass --chapter")
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        tied = ", ".join(sorted(c for c, n in ranked if n == ranked[0][1]))
        raise ValueError(f"cannot tell which chapter to grade (as many notebooks name each of: {tied}); "
                         "pass --chapter")
    return ranked[0][0]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A cell a spreadsheet will not run: text starting with = + - @ tab or CR gets a leading apostrophe.

    OWASP, "CSV Injection": prefix such cells with a single quote. Numbers pass through unchanged.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
