"""Differential grading: probes evaluate a student's answer on inputs drawn from a seed the grader picks per run.

The same probe cells run in the student's sandboxed kernel and in a clean kernel that ran the reference
solution (once per class). Each kernel sends back plain data only (numbers, strings, nested lists, tensors as
dtype + shape + raw bytes, never pickle), which the grader decodes with bounds and compares in its own
process with a tolerance per probe. A kernel that lies about its asserts passes only by returning the right
values for inputs it has never seen: by solving the exercise. Differential testing: McKeeman, "Differential
Testing for Software", Digital Technical Journal 10(1), 1998.

This module holds the mechanics (specs, kernel side, decoding); the comparison is in compare.py, the probes of
each chapter in chapter_probes.py.
"""
from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass, field
from typing import Callable

import nbformat
import numpy as np
from nbformat.v4 import new_code_cell

MIME = "application/vnd.regviz.probe+json"
ROLE = "regviz_grader"  # the cell metadata key of tamper.py (metadata never reaches the kernel)
MAX_SCALARS = 400_000  # numbers (tensor elements included) one probe cell may return
MAX_DEPTH = 16


@dataclass(frozen=True)
class Probe:
    """One expression evaluated on seeded inputs; compared with the reference kernel's value within a tolerance."""

    expr: str
    atol: float = 1e-6
    rtol: float = 1e-5


@dataclass(frozen=True)
class ExerciseProbes:
    """The probes of one exercise.

    Attributes:
        setup: code run (in a copy of the kernel's globals) before each probe; `_seed` and a torch
            generator `_g` seeded with it are bound.
        probes: name -> Probe (an expression string is taken as Probe(expr)).
        kind: "probe" (fresh inputs each run) or "state" (the answer is notebook state: a trained model,
            a value chosen from stored runs; graded by `judge` from returned values).
        judge: None: every probe must match the reference; else judge(values, reference) -> reason or None.
        why: for kind "state", why fresh inputs cannot be used.
    """

    setup: str = ""
    probes: dict = field(default_factory=dict)
    kind: str = "probe"
    judge: Callable | None = None
    why: str = ""

    def __post_init__(self):
        if self.kind not in ("probe", "state"):
            raise ValueError(f"kind={self.kind!r}; allowed: 'probe', 'state'")
        if self.kind == "state" and (self.judge is None or not self.why):
            raise ValueError("a 'state' exercise needs a judge and a reason (why)")
        object.__setattr__(self, "probes", {k: p if isinstance(p, Probe) else Probe(p) for k, p in self.probes.items()})


# ---------------------------------------------------------------------------------------------------
# Decoded values: what a kernel may send.

@dataclass(frozen=True)
class Raised:
    """A probe whose expression raised in the kernel."""

    message: str


@dataclass(frozen=True)
class Unsupported:
    """A value that is not plain data (its type name only)."""

    type_name: str


class BadResult(ValueError):
    """A probe message that is not well-formed plain data."""


# Runs in the kernel: evaluate each probe and send the encoded values as one display message.
KERNEL_SIDE = '''
def _regviz_probe(setup, exprs, seed, limit, mime):
    import base64, math, sys
    left = [limit]
    def spend(k):
        left[0] -= k
        if left[0] < 0:
            raise ValueError("probe result over the size limit")
    def enc(v, depth=0):
        spend(1)
        if depth > 16:
            raise ValueError("probe result nested too deep")
        torch, np = sys.modules.get("torch"), sys.modules.get("numpy")
        if v is None or isinstance(v, (bool, str)):
            if isinstance(v, str):
                spend(len(v) // 8)
            return v if not isinstance(v, str) else str(v)
        if isinstance(v, int):
            return int(v)
        if isinstance(v, float):
            return float(v) if math.isfinite(v) else {"__float__": repr(float(v))}
        if isinstance(v, (list, tuple)):
            return [enc(x, depth + 1) for x in v]
        if isinstance(v, dict):
            return {"__dict__": [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in v.items()]}
        if torch is not None and isinstance(v, torch.Tensor):
            t = v.detach().cpu()
            t = (t.float() if t.dtype == torch.bfloat16 else t).contiguous()
            spend(t.numel())
            return {"__tensor__": [str(t.dtype).replace("torch.", ""), list(t.shape),
                                   base64.b64encode(t.numpy().tobytes()).decode()]}
        if np is not None and isinstance(v, np.ndarray):
            spend(v.size)
            return {"__tensor__": [str(v.dtype), list(v.shape), base64.b64encode(np.ascontiguousarray(v).tobytes()).decode()]}
        if np is not None and isinstance(v, np.generic):
            return enc(v.item(), depth)
        return {"__type__": type(v).__name__}
    out = {}
    for name, expr in exprs.items():
        ns = dict(globals())
        ns["_seed"] = seed
        try:
            exec(setup, ns)
            out[name] = enc(eval(expr, ns))
        except Exception as e:
            try:
                text = (type(e).__name__ + ": " + str(e))[:300]
            except Exception:
                text = "an exception whose message cannot be shown"
            out[name] = {"__error__": text}
    from IPython.display import display
    display({mime: out}, raw=True)
'''
PRELUDE = "import torch\n_g = torch.Generator().manual_seed(_seed)\n"


def probe_cells(specs: dict[int, ExerciseProbes], seed: int) -> list[nbformat.NotebookNode]:
    """One cell per exercise (each has its own time limit), run after every cell of the notebook."""
    cells = []
    for n, spec in sorted(specs.items()):
        exprs = {k: p.expr for k, p in spec.probes.items()}
        source = (f"# regviz grader: probes of exercise {n}\n{KERNEL_SIDE.strip()}\n"
                  f"_regviz_probe({PRELUDE + spec.setup!r}, {exprs!r}, {seed + n}, {MAX_SCALARS}, {MIME!r})\n"
                  "del _regviz_probe")
        cell = new_code_cell(source)
        cell.metadata[ROLE] = {"role": "probe", "exercise": n}
        cells.append(cell)
    return cells


def add_probes(nb: nbformat.NotebookNode, specs: dict[int, ExerciseProbes], seed: int) -> nbformat.NotebookNode:
    """Copy of a grading copy with the probe cells of `specs` (a chapter's, see chapter_probes) at the end."""
    out = nbformat.from_dict(nb)
    out.cells = list(out.cells) + probe_cells(specs, seed)
    return out


def decode(value, budget: list[int] | None = None, depth: int = 0):
    """A probe value sent by a kernel -> Python data (numpy arrays for tensors), never executing anything.

    Raises:
        BadResult: an unknown shape of data, a dtype not allowed, sizes that do not add up, or too much of it.
    """
    budget = [MAX_SCALARS] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise BadResult("too large or nested too deep")
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        budget[0] -= len(value) // 8
        return value
    if isinstance(value, list):
        return [decode(v, budget, depth + 1) for v in value]
    if not (isinstance(value, dict) and len(value) == 1):
        raise BadResult(f"unexpected {type(value).__name__}")
    (tag, body), = value.items()
    if tag == "__tensor__":
        return _tensor(body, budget)
    if tag == "__dict__" and isinstance(body, list):
        out = {}
        for pair in body:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise BadResult("malformed dict")
            key = decode(pair[0], budget, depth + 1)
            if not (key is None or isinstance(key, (bool, int, float, str))):
                raise BadResult("dict key is not a number or string")
            out[key] = decode(pair[1], budget, depth + 1)
        return out
    if tag == "__float__" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "__error__" and isinstance(body, str):
        return Raised(body[:300])
    if tag == "__type__" and isinstance(body, str):
        return Unsupported(body[:100])
    raise BadResult(f"unexpected tag {str(tag)[:40]!r}")


DTYPES = {"bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "complex64",
          "complex128"}


def _tensor(body, budget: list[int]) -> np.ndarray:
    if not (isinstance(body, list) and len(body) == 3):
        raise BadResult("malformed tensor")
    dtype, shape, data = body
    if dtype not in DTYPES:
        raise BadResult(f"dtype {str(dtype)[:20]!r} not allowed")
    if not (isinstance(shape, list) and len(shape) <= 8 and all(type(s) is int and s >= 0 for s in shape)):
        raise BadResult("malformed shape")
    count = math.prod(shape)
    budget[0] -= count
    if budget[0] < 0 or not isinstance(data, str) or len(data) > 4 * (16 * count // 3 + 2):  # base64 of complex128
        raise BadResult("tensor too large")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadResult("tensor bytes are not base64") from None
    if len(raw) != count * np.dtype(dtype).itemsize:
        raise BadResult("tensor bytes do not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def read_probes(nb: nbformat.NotebookNode, specs: dict[int, ExerciseProbes]) -> dict[int, dict | str]:
    """Per probed exercise of an executed grading copy: {probe name: decoded value}, or why there is none."""
    found: dict[int, dict | str] = {n: "probes did not run (time limit or kernel stopped)" for n in specs}
    for cell in nb.cells:
        role = cell.get("metadata", {}).get(ROLE, {})
        n = role.get("exercise")
        if role.get("role") != "probe" or n not in specs:
            continue
        sent = [o["data"][MIME] for o in cell.get("outputs", [])
                if o.get("output_type") == "display_data" and MIME in o.get("data", {})]
        if len(sent) != 1:
            found[n] = "probes sent no result" if not sent else "probes sent more than one result"
            continue
        if not (isinstance(sent[0], dict) and set(sent[0]) == set(specs[n].probes)):
            found[n] = "probe result malformed (wrong names)"
            continue
        try:
            budget = [MAX_SCALARS]
            found[n] = {k: decode(v, budget) for k, v in sent[0].items()}
        except BadResult as exc:
            found[n] = f"probe result malformed ({exc})"
    return found
