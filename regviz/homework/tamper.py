"""Tamper detection: canary checks planted by the grader, which must fail in an honest run.

A canary is the reference check cell run while the exercise's answer names (the names its solution
cells bind) are bound to a decoy that returns a random number, so an honest kernel fails it. One runs
before each real check; after it, the same again plus one per assert that reads the answer (the other
asserts dropped). If a canary "passes" (prints its token, no error shown), something changed how checks
execute: stripped or rewritten asserts, hooks that print tokens or swallow errors, patched builtins or
patched functions that the check calls. That exercise earns nothing and the row says `tampered`.
Every token is 128 fresh random bits per notebook, known only to the grader. Canary variants that pass
in an honest run of the reference are ignored (grade.honest_canaries).
"""
from __future__ import annotations

import ast
import secrets
from dataclasses import dataclass, field

import nbformat
from nbformat.v4 import new_code_cell

from .notebook import Exercise, _defs_and_uses, check_cell_exercise

ROLE = "regviz_grader"  # cell metadata key; metadata never reaches the kernel


@dataclass
class Plan:
    """Tokens the grader planted in one grading copy (known only to the grader)."""

    checks: dict[int, str] = field(default_factory=dict)  # exercise -> token of the real check
    canaries: dict[str, tuple[int, str]] = field(default_factory=dict)  # token -> (exercise, variant)


def token() -> str:
    """A fresh unpredictable token (128 random bits)."""
    return "t" + secrets.token_hex(16)


def with_token(source: str, tok: str) -> str:
    """Check source that prints `tok` once all its statements ran (through builtins: a shadowed print does not matter)."""
    return source.rstrip() + f"\n__import__('builtins').print({tok!r})"


def decoy_names(ref: nbformat.NotebookNode, ex: Exercise) -> list[str]:
    """Names bound by the exercise's reference answer cells that its check cell reads."""
    bound: set[str] = set()
    for i in ex.answer_cells:
        info = _defs_and_uses(ref.cells[i].source)
        if info is not None:
            bound |= info[1]
    check = _defs_and_uses(ref.cells[ex.check_cell].source) if ex.check_cell is not None else None
    reads = check[2] if check is not None else set()
    return sorted(bound & reads)


def tainted_asserts(check_source: str, names: list[str]) -> list[int]:
    """Indices (ast.walk order) of the check's asserts whose test reads a decoy name, directly or through
    a variable assigned from one earlier in the cell."""
    try:
        tree = ast.parse(check_source)
    except SyntaxError:
        return []
    tainted = set(names)
    binds = [n for n in ast.walk(tree) if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For))]
    grown = True
    while grown:  # until nothing new is tainted: ast.walk is breadth-first, not source order
        before = len(tainted)
        for node in binds:
            value = node.iter if isinstance(node, ast.For) else node.value
            if value is not None and {n.id for n in ast.walk(value) if isinstance(n, ast.Name)} & tainted:
                target = node.target if not isinstance(node, ast.Assign) else ast.Tuple(node.targets)
                tainted |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        grown = len(tainted) > before
    asserts = [n for n in ast.walk(tree) if isinstance(n, ast.Assert)]
    return [i for i, a in enumerate(asserts) if {n.id for n in ast.walk(a.test) if isinstance(n, ast.Name)} & tainted]


def only_assert(check_source: str, keep: int) -> str:
    """The check with every assert but the `keep`-th (ast.walk order) replaced by `pass`."""
    tree = ast.parse(check_source)
    asserts = [n for n in ast.walk(tree) if isinstance(n, ast.Assert)]

    class Drop(ast.NodeTransformer):
        def visit_Assert(self, node):
            return node if node is asserts[keep] else ast.copy_location(ast.Pass(), node)

    header = check_source.lstrip("\n").split("\n", 1)[0]
    return header + "\n" + ast.unparse(ast.fix_missing_locations(Drop().visit(tree)))


def canary_cells(check_source: str, names: list[str], tok: str, exercise: int, variant: str) -> list[nbformat.NotebookNode]:
    """[setup, canary, restore]: bind decoys, run the check (or one of its asserts), put every global back.

    Without decoy names the canary gets one extra assertion that is false for random numbers.
    """
    k = secrets.token_hex(6)
    value = 1 + secrets.randbelow(10**12) / 7.0  # a random float no honest answer returns
    if names:
        setup = f"_rg{k} = dict(globals())\n" + " = ".join(names) + f" = lambda *_a, **_k: {value!r}"
        body = check_source if variant == "all" else only_assert(check_source, int(variant))
    else:
        setup = f"_rg{k} = dict(globals())"
        body = check_source.rstrip() + f"\nassert {value!r} == {value + 1!r}"
    restore = (f"_rs{k} = globals().pop('_rg{k}')\n"
               f"[globals().pop(_n) for _n in list(globals()) if _n not in _rs{k} and _n != '_rs{k}']\n"
               f"globals().update(_rs{k})\n"
               f"del _rs{k}")
    cells = [new_code_cell(setup), new_code_cell(with_token(body, tok)), new_code_cell(restore)]
    for role, c in zip(("setup", "canary", "restore"), cells):
        c.metadata[ROLE] = {"role": role, "exercise": exercise, "variant": variant}
    return cells


def plant(nb: nbformat.NotebookNode, ref: nbformat.NotebookNode, ref_exercises: list[Exercise]) -> tuple[nbformat.NotebookNode, Plan, list[int]]:
    """Grading copy of a submission: each check cell replaced by the reference's, with canaries around it.

    Before the check: one canary running the whole check with decoys. After it: the same again, plus
    one canary per assert that reads a decoy (the other asserts dropped), so a lie that helps only one
    assert is still caught.

    Args:
        nb: the submission (not modified).
        ref: the reference notebook.
        ref_exercises: find_exercises(ref).
    Returns:
        (grading copy, the plan of tokens, exercise numbers whose check cell is missing from the submission).
    """
    by_number = {e.number: e for e in ref_exercises if e.check_cell is not None}
    plan = Plan()
    out = nbformat.from_dict(nb)
    cells = []
    for cell in out.cells:
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        cell.outputs, cell.execution_count = [], None
        cell.metadata.pop(ROLE, None)
        n = check_cell_exercise(cell.source)
        if n not in by_number or n in plan.checks:
            cells.append(cell)
            continue
        ex = by_number[n]
        source = ref.cells[ex.check_cell].source
        names = decoy_names(ref, ex)
        variants = ["all"] + ([str(i) for i in tainted_asserts(source, names)] if names else [])  # after the check
        plan.checks[n] = token()
        cell.source = with_token(source, plan.checks[n])
        cell.metadata[ROLE] = {"role": "check", "exercise": n}
        for i, v in enumerate(["all"] + variants):  # the whole-check canary before the check, all after it
            if i == 1:
                cells.append(cell)
            tok = token()
            plan.canaries[tok] = (n, v)
            cells += canary_cells(source, names, tok, n, v)
    out.cells = cells
    return out, plan, sorted(set(by_number) - set(plan.checks))


def passed_canaries(nb: nbformat.NotebookNode, plan: Plan) -> set[tuple[int, str]]:
    """(exercise, variant) of every canary that printed its token with no error shown: tampering, unless
    that variant also passes in an honest run of the reference (see honest_canaries in grade.py)."""
    found = set()
    for cell in nb.cells:
        if cell.get("metadata", {}).get(ROLE, {}).get("role") != "canary":
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        for line in text.splitlines():
            if line.strip() in plan.canaries and not errors:
                found.add(plan.canaries[line.strip()])
    return found


def strip_planted(nb: nbformat.NotebookNode, plan: Plan) -> nbformat.NotebookNode:
    """Copy without the planted cells and token lines (the executed notebook handed back as feedback)."""
    out = nbformat.from_dict(nb)
    out.cells = [c for c in out.cells if c.get("metadata", {}).get(ROLE, {}).get("role") in (None, "check")]
    tokens = set(plan.checks.values())
    for c in out.cells:
        if c.get("metadata", {}).pop(ROLE, None):
            c.source = "\n".join(line for line in c.source.split("\n") if not any(t in line for t in tokens))
            for o in c.get("outputs", []):
                if o.get("output_type") == "stream":
                    o["text"] = "".join(line for line in o["text"].splitlines(True) if line.strip() not in tokens)
    return out
