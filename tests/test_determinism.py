"""Same parameters, same thread count -> the same printed outputs, run after run (fresh kernels, FAST mode).

Compared: every text a code cell prints or returns (stdout, and the text/plain of results without a live
widget). Cells marked ``# NBVAL_IGNORE_OUTPUT`` are left out: they print wall-clock times or hold a widget.
"""
from pathlib import Path

import papermill as pm
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
WIDGET = "application/vnd.jupyter.widget-view+json"


def printed(nb) -> list[tuple[int, str]]:
    """(cell index, text) for each text output of each compared cell."""
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "NBVAL_IGNORE_OUTPUT" in cell.source:
            continue
        # a cell's stdout may arrive in one message or several (timing): compare it joined
        stdout = "".join(o["text"] for o in cell.get("outputs", []) if o.get("output_type") == "stream"
                         and o.get("name") == "stdout")
        if stdout:
            out.append((i, stdout))
        for o in cell.get("outputs", []):
            if o.get("output_type") in ("execute_result", "display_data") and WIDGET not in o.get("data", {}):
                if "text/plain" in o.get("data", {}) and "image/png" not in o["data"]:
                    out.append((i, o["data"]["text/plain"]))
    return out


def run_twice(name: str, tmp_path: Path) -> tuple[list, list]:
    runs = []
    for k in range(2):
        nb = pm.execute_notebook(str(NOTEBOOKS / name), str(tmp_path / f"run{k}.ipynb"),
                                 parameters={"FAST": True, "DEVICE": "cpu", "SEED": 0}, cwd=str(NOTEBOOKS),
                                 kernel_name="python3", progress_bar=False)
        runs.append(printed(nb))
    return runs[0], runs[1]


def test_printed_helper_sees_what_differs():
    """The comparison catches a changed number and skips cells marked NBVAL_IGNORE_OUTPUT."""
    import nbformat
    def nb(value):
        cells = [nbformat.v4.new_code_cell("print(x)", outputs=[nbformat.v4.new_output("stream", name="stdout", text=value)]),
                 nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nt",
                                           outputs=[nbformat.v4.new_output("stream", name="stdout", text=value)])]
        return nbformat.v4.new_notebook(cells=cells)
    assert printed(nb("1.23")) != printed(nb("1.24"))
    assert printed(nb("1.23")) == [(0, "1.23")]
    split = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(x)", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="1."), nbformat.v4.new_output("stream", name="stdout", text="23")])])
    assert printed(split) == [(0, "1.23")]  # one cell's stdout split over two messages compares equal


@pytest.mark.parametrize("name", ["07_llm_z_loss.ipynb", "03_dropout.ipynb"])
def test_two_fresh_runs_print_the_same(name, tmp_path):
    """Two fresh FAST executions print identical text, cell by cell."""
    first, second = run_twice(name, tmp_path)
    assert len(first) > 5
    diffs = [(a, b) for a, b in zip(first, second) if a != b]
    assert not diffs and len(first) == len(second), f"{len(diffs)} outputs differ, first: {diffs[:1]}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["01_overfitting.ipynb", "02_weight_decay.ipynb", "04_label_smoothing.ipynb",
                                  "05_augmentation.ipynb", "06_early_stopping.ipynb"])
def test_other_chapters_print_the_same(name, tmp_path):
    """The same check for the remaining chapters (marker slow)."""
    first, second = run_twice(name, tmp_path)
    diffs = [(a, b) for a, b in zip(first, second) if a != b]
    assert not diffs and len(first) == len(second), f"{len(diffs)} outputs differ, first: {diffs[:1]}"
