"""What two executions of a chapter must print alike: the text of its code cells' outputs, code cell by code cell.

Compared: every text a code cell prints or returns (stdout, and the text/plain of results without a live widget or
an image). Cells marked ``# NBVAL_IGNORE_OUTPUT`` are left out: they print wall-clock times or hold a widget.
Cells are numbered among code cells only, as nbval numbers them ("Cell 12").
"""
from __future__ import annotations

import io
import tokenize
from typing import Iterable

WIDGET = "application/vnd.jupyter.widget-view+json"
SKIP_TOKENS = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT}


def ends_with_semicolon(source: str) -> bool:
    """Whether a cell's last token is ``;``: Jupyter then shows no result. (nbval executes cells without storing
    them in IPython's history, and IPython decides from the history, so nbval's run still records the result.)"""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in SKIP_TOKENS]
    except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
        return source.rstrip().endswith(";")
    return bool(tokens) and tokens[-1].string == ";"


def printed_outputs(cells: Iterable[tuple[int, str, list]]) -> list[tuple[int, str]]:
    """(code cell number, text) for each text output of each compared cell.

    Args:
        cells: (code cell number, source, outputs) per code cell, outputs as nbformat output dicts.
    """
    out = []
    for num, source, outputs in cells:
        if "NBVAL_IGNORE_OUTPUT" in source:
            continue
        # a cell's stdout may arrive in one message or several (timing): compare it joined
        stdout = "".join(o["text"] for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stdout")
        if stdout:
            out.append((num, stdout))
        quiet = ends_with_semicolon(source)
        for o in outputs:
            data = o.get("data", {})
            if o.get("output_type") == "execute_result" and quiet:
                continue
            if o.get("output_type") in ("execute_result", "display_data") and WIDGET not in data:
                if "text/plain" in data and "image/png" not in data:
                    out.append((num, data["text/plain"]))
    return out


def without_updated_widgets(recorded: list, final: list) -> list:
    """``final`` (a cell's outputs as saved after the run) less the displays that ``recorded`` (the same cell's
    outputs as nbval recorded them) holds as live widgets.

    A display can be updated in place later (a closed progress bar leaves its final line under the widget's display
    id): the saved notebook holds the update, nbval records only the first message. Displays are never merged, so
    display k of one list is display k of the other."""
    is_display = lambda o: o.get("output_type") in ("display_data", "execute_result")  # noqa: E731
    widgets = {k for k, o in enumerate(o for o in recorded if is_display(o)) if WIDGET in o.get("data", {})}
    out, k = [], 0
    for o in final:
        if is_display(o):
            k += 1
            if k - 1 in widgets:
                continue
        out.append(o)
    return out


def printed(nb) -> list[tuple[int, str]]:
    """``printed_outputs`` of an executed notebook (an nbformat notebook)."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    return printed_outputs((k, c.source, c.get("outputs", [])) for k, c in enumerate(code))


def differences(first: list, second: list) -> str:
    """'' when both runs printed the same; otherwise what differs, for an assertion message."""
    diffs = [(a, b) for a, b in zip(first, second) if a != b]
    if not diffs and len(first) == len(second):
        return ""
    return (f"{len(diffs)} outputs differ and the runs printed {len(first)} and {len(second)} texts; "
            f"first difference: {diffs[:1]}")
