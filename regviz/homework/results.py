"""Reading marks: pass/fail per exercise from an executed grading copy, the final verdict (canaries and probes),
and the grades CSV (written atomically, cells escaped against spreadsheet formula injection, OWASP).
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .chapter_probes import PROBES
from .notebook import find_exercises
from .compare import judge_exercise
from .submissions import csv_safe
from .tamper import ROLE, Plan

ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TAMPERED = "tampered: a grader canary that must fail passed (the submission changes how checks run)"


@dataclass
class Grade:
    """One graded submission: pass/fail and a message per exercise number, and a notebook-level note."""

    student: str
    passed: dict[int, bool] = field(default_factory=dict)
    messages: dict[int, str] = field(default_factory=dict)
    note: str = ""
    seconds: float = 0.0
    # Before the canaries are judged: results as if no canary passed, notes, and the canaries that passed.
    raw: dict | None = field(default=None, repr=False, compare=False)

    @property
    def total(self) -> int:
        """Number of exercises passed."""
        return sum(self.passed.values())

    def to_json(self) -> dict:
        """The judged row as plain JSON data (one line of the partial file beside the CSV)."""
        return {"student": self.student, "passed": {str(n): ok for n, ok in self.passed.items()},
                "messages": {str(n): m for n, m in self.messages.items()}, "note": self.note, "seconds": self.seconds}

    @classmethod
    def from_json(cls, row: dict) -> "Grade":
        """Inverse of to_json."""
        return cls(str(row["student"]), passed={int(n): bool(ok) for n, ok in row["passed"].items()},
                   messages={int(n): str(m) for n, m in row["messages"].items()}, note=str(row.get("note", "")),
                   seconds=float(row.get("seconds", 0.0)))


def judge_canaries(grade: Grade, honest: set, reference: dict | None = None) -> Grade:
    """Final marks of a grade: an exercise whose canary passed (and does not pass in an honest run) fails, and so
    does one whose probe values differ from the reference kernel's (or break the exercise's property).

    Args:
        grade: a Grade with `raw` results (grade_notebook(..., defer_canaries=True)).
        honest: canary variants (exercise, variant) that pass in an honest run of the reference (honest_canaries).
        reference: probe values of the reference kernel per exercise, for the same seed (reference_run);
            None: probes are not judged (only the check cells and canaries count).
    Returns:
        The same Grade, with passed, messages and note set.
    """
    raw = grade.raw
    tampered = sorted({n for n, v in raw["canaries"] if (n, v) not in honest})
    grade.passed = {n: ok and n not in tampered for n, ok in raw["passed"].items()}
    grade.messages = {n: TAMPERED if n in tampered else m for n, m in raw["messages"].items()}
    notes = list(raw["notes"])
    if tampered:
        notes.insert(0, "tampered: exercise " + ", ".join(map(str, tampered)) + " ran under changed execution (no credit)")
    specs = PROBES.get(raw.get("chapter"), {})
    if reference is not None:
        differ = []
        for n, values in sorted((raw.get("probes") or {}).items()):
            if n not in specs or n not in grade.passed:
                continue
            why, extra = judge_exercise(specs[n], values, reference.get(n))
            notes += [f"exercise {n}: {e}" for e in extra]
            if why and grade.passed[n]:  # a failed check keeps its own message (the student's feedback)
                grade.passed[n] = False
                grade.messages[n] = short(f"differential check failed: {why}")
                differ.append(n)
        if differ:
            notes.insert(0, "exercise " + ", ".join(map(str, differ)) + ": the check passed in the kernel, but the "
                         "answers fail the grader's own probes on fresh inputs (no credit)")
    grade.note = short("; ".join(notes), 500)
    return grade


def short(text: str, limit: int = 300) -> str:
    """One line of at most `limit` characters, ANSI colours removed."""
    text = " ".join(ANSI_RE.sub("", str(text)).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def not_graded(student: str, numbers: list[int], note: str) -> Grade:
    """The row of a submission that never ran: every exercise failed, with the reason as its note."""
    return Grade(student, raw={"passed": {n: False for n in numbers}, "canaries": set(), "notes": [note],
                               "messages": {n: "not graded" for n in numbers}, "probes": {}})


def _error_of(cell: nbformat.NotebookNode) -> str | None:
    """'EName: value' of the first error output of a cell, or None."""
    for o in cell.get("outputs", []):
        if o.get("output_type") == "error" and o.get("ename") == "KeyboardInterrupt":
            return "TimeoutError: cell over the per-cell time limit (interrupted)"
        if o.get("output_type") == "error":
            return short(f"{o.get('ename', 'Error')}: {o.get('evalue', '')}".rstrip(": "))
    return None


def _stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def _role(cell) -> dict:
    return cell.get("metadata", {}).get(ROLE, {})


def _clean(cell, tok: str, status: str | None) -> tuple[bool, str | None]:
    """(printed its token with no error shown and no error reply, error text)."""
    err = _error_of(cell)
    printed = any(line.strip() == tok for line in _stdout(cell).splitlines())
    return printed and err is None and status in (None, "ok"), err


def read_results(nb: nbformat.NotebookNode, numbers: list[int], plan: Plan, missing: list[int],
                 statuses: dict[int, str] | None = None) -> tuple[dict, dict]:
    """Pass/fail and message per exercise from an executed grading copy (canaries are judged apart, in
    `judge_canaries`).

    A check passes when its cell printed its token, shows no error and the kernel replied 'ok'. A failing
    check reports its error; when an answer cell of the exercise raised first, that error leads the message.
    """
    statuses = statuses or {}
    view = nbformat.from_dict(nb)  # the submission's own cells and the real checks, for the exercise structure
    keep = [i for i, c in enumerate(nb.cells) if _role(c).get("role") in (None, "check")]
    view.cells = [nb.cells[i] for i in keep]
    exercises = {e.number: e for e in find_exercises(view)}
    passed, messages = {}, {}
    for n in numbers:
        ex = exercises.get(n)
        check = view.cells[ex.check_cell] if ex is not None and ex.check_cell is not None else None
        if n in missing or check is None or _role(check).get("role") != "check":
            passed[n], messages[n] = False, "check cell missing from the submission"
            continue
        status = statuses.get(keep[ex.check_cell])
        ok, err = _clean(check, plan.checks[n], status)
        passed[n] = ok
        if ok:
            messages[n] = ""
            continue
        if err is None:
            err = ("check did not run" if status is None else
                   "check failed (error reply, no error shown)" if status == "error" else
                   "check did not finish (time limit or kernel stopped)")
        answer_errs = [e for e in (_error_of(view.cells[i]) for i in ex.answer_cells) if e]
        messages[n] = short(f"answer: {answer_errs[0]} | check: {err}" if answer_errs else err)
    return passed, messages


def write_csv(grades: list[Grade], numbers: list[int], out: str | Path) -> None:
    """CSV: student, ex<N>, ex<N>_message for each exercise, total, message; sorted by student.

    Written to a temporary file beside `out`, then renamed over it: a reader never sees half a CSV.
    """
    header = ["student"] + [c for n in numbers for c in (f"ex{n}", f"ex{n}_message")] + ["total", "message"]
    out = Path(out)
    if out.parent != Path(""):
        out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            for g in sorted(grades, key=lambda g: g.student):
                row = [g.student]
                for n in numbers:
                    row += ["pass" if g.passed.get(n) else "fail", g.messages.get(n, "")]
                w.writerow([csv_safe(c) for c in row + [g.total, g.note]])
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
