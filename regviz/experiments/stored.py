"""Stored results: rows of a sweep as small frozen dataclasses, read from and written to the JSON files under
notebooks/results/ (one JSON object per row, its keys the dataclass's fields)."""
from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Sequence


def rows(cls: type, records: Sequence[dict], *, source: str = "") -> list:
    """``[cls(**r) for r in records]``, with a ``ValueError`` naming the fields a record lacks or has in excess.

    Args:
        cls: a dataclass whose fields are the record's keys (fields with a default may be missing).
        records: JSON objects, as ``json.loads`` gives them.
        source: where they came from (a file name), for the message.
    """
    names = {f.name for f in fields(cls)}
    needed = {f.name for f in fields(cls) if f.default is f.default_factory}  # both MISSING: no default
    out = []
    for i, r in enumerate(records):
        if not isinstance(r, dict) or not needed <= set(r) <= names:
            got = sorted(r) if isinstance(r, dict) else type(r).__name__
            where = f" in {source}" if source else ""
            raise ValueError(f"record {i}{where} is not a {cls.__name__}: got {got}; "
                             f"allowed keys {sorted(names)}, required {sorted(needed)}")
        out.append(cls(**r))
    return out


def record(row: Any) -> dict:
    """A row dataclass as its JSON object: every field, except optional ones left at None."""
    return {k: v for k, v in asdict(row).items() if v is not None}


def read_json(path: str | Path) -> dict:
    """A stored result file as a dict; a ``ValueError`` when it is not a JSON object."""
    try:
        out = json.loads(Path(path).read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:  # a binary file, or text that is not JSON
        raise ValueError(f"{path} is not JSON: {e}") from None
    if not isinstance(out, dict):
        raise ValueError(f"{path} holds a JSON {type(out).__name__}; a stored result is a JSON object")
    return out
