"""The rows of a class run as they arrive: one JSON line each in an append-only file beside the CSV, fsynced, so
that an interrupted run can be resumed (`--resume`) and grade only what is missing.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .results import Grade

PARTIAL_SUFFIX = ".partial.jsonl"


def partial_path(out: str | Path) -> Path:
    """The append-only file of finished rows beside `out` (grades.csv -> grades.csv.partial.jsonl)."""
    out = Path(out)
    return out.with_name(out.name + PARTIAL_SUFFIX)


def read_partial(path: Path, chapter: str, numbers: list[int]) -> dict[str, Grade]:
    """Rows finished by an earlier run of the same chapter (a torn last line, from an interrupted write, is skipped).

    Raises:
        ValueError: the file was written for another chapter or other exercises.
    """
    rows: dict[str, Grade] = {}
    if not path.exists():
        return rows
    lines = path.read_text().splitlines()
    head = json.loads(lines[0]) if lines else {}
    if head.get("chapter") != chapter or head.get("exercises") != numbers:
        raise ValueError(f"--resume: {str(path)!r} holds rows of chapter {head.get('chapter')!r}, exercises "
                         f"{head.get('exercises')}; allowed: the same chapter ({chapter}, exercises {numbers}), "
                         "or a run without --resume")
    for line in lines[1:]:
        try:
            g = Grade.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        rows[g.student] = g
    return rows



class Rows:
    """The rows of a run: kept in memory, appended to the partial file (one JSON line each) as they arrive."""

    def __init__(self, path: Path, chapter: str, numbers: list[int], done: dict[str, Grade], log):
        self.grades, self.numbers, self.log, self.bar, self.path = dict(done), numbers, log, None, path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "w")
        self.file.write(json.dumps({"chapter": chapter, "exercises": numbers}) + "\n")
        for g in done.values():  # rewritten whole: a torn last line of the interrupted run is dropped
            self.file.write(json.dumps(g.to_json()) + "\n")
        self.file.flush()

    def add(self, g: Grade) -> None:
        self.grades[g.student] = g
        self.file.write(json.dumps(g.to_json()) + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())
        self.say(f"{g.student}: {g.total}/{len(self.numbers)} ({g.seconds:.0f} s){' - ' + g.note if g.note else ''}")

    def say(self, line: str) -> None:
        """One line on the log (above the progress bar while there is one)."""
        if self.log is None:
            return
        if self.bar is not None:
            self.bar.write(line, file=self.log)
        else:
            print(line, file=self.log, flush=True)

    def close(self) -> None:
        """Close the partial file; remove it when it holds no row (a run stopped before any finished)."""
        self.file.close()
        if not self.grades:
            self.path.unlink(missing_ok=True)
