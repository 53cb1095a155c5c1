"""Comparing probe values in the grader's own process: a student's decoded values (probes.py) against the
reference kernel's, with each probe's tolerance, or against an exercise's property where no single value is right.
"""
from __future__ import annotations

import math

import numpy as np

from .probes import ExerciseProbes, Raised, Unsupported


def _scalar(v):
    return v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v


def _show(v) -> str:
    if isinstance(v, np.ndarray):
        return f"a {v.dtype} tensor of shape {tuple(v.shape)}"
    if isinstance(v, Unsupported):
        return f"a {v.type_name}"
    if isinstance(v, float):
        return f"{v:.6g}"
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def differs(got, expected, atol: float, rtol: float) -> str | None:
    """Why `got` does not match `expected` (a reference value), or None when it does."""
    if isinstance(got, Raised):
        return f"raised {got.message}"
    got, expected = _scalar(got), _scalar(expected)
    if expected is None or isinstance(expected, (bool, str, Unsupported)):
        ok = type(got) is type(expected) and got == expected
        return None if ok else f"got {_show(got)}, expected {_show(expected)}"
    if isinstance(expected, (int, float)):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return f"got {_show(got)}, expected a number"
        if (math.isnan(got) and math.isnan(expected)) or math.isclose(got, expected, rel_tol=rtol, abs_tol=atol):
            return None
        return f"got {_show(got)}, expected {_show(expected)}"
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return f"got {_show(got)}, expected a list of {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            why = differs(g, e, atol, rtol)
            if why:
                return f"[{i}] {why}"
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return f"got {_show(got)}, expected a dict with keys {sorted(map(str, expected))[:5]}"
        for k in expected:
            why = differs(got[k], expected[k], atol, rtol)
            if why:
                return f"[{k!r}] {why}"
        return None
    if isinstance(expected, np.ndarray):
        if not isinstance(got, np.ndarray) or got.shape != expected.shape:
            return f"got {_show(got)}, expected {_show(expected)}"
        if expected.dtype == bool or got.dtype == bool:
            return None if got.dtype == expected.dtype and np.array_equal(got, expected) else "boolean tensor differs"
        a, b = got.astype(np.complex128), expected.astype(np.complex128)
        if np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            return None
        return f"tensor differs (largest difference {float(np.nanmax(np.abs(a - b))):.3g})"
    return f"unexpected reference value {_show(expected)}"


def judge_exercise(spec: ExerciseProbes, values: dict | str, reference: dict | str | None) -> tuple[str | None, list[str]]:
    """(why the exercise fails its probes or None, notes about probes the reference itself failed)."""
    if isinstance(values, str):
        return values, []
    if spec.judge is not None:
        raised = [f"{k}: {v.message}" for k, v in values.items() if isinstance(v, Raised)]
        if raised:
            return f"probe {raised[0]}", []
        try:
            return spec.judge(values, reference if isinstance(reference, dict) else {}), []
        except Exception as exc:  # noqa: BLE001 - values of the wrong type: the property does not hold
            return f"answer values of the wrong kind ({type(exc).__name__}: {str(exc)[:100]})", []
    if not isinstance(reference, dict):
        return None, [f"reference gave no probe values ({reference}); graded by its check alone"]
    notes = []
    for name, probe in spec.probes.items():
        expected = reference.get(name)
        if isinstance(expected, Raised) or name not in reference:
            notes.append(f"probe {name} failed on the reference ({getattr(expected, 'message', 'missing')}); not used")
            continue
        why = differs(values.get(name), expected, probe.atol, probe.rtol)
        if why:
            return f"probe {name} on fresh inputs: {why}", notes
    return None, notes
