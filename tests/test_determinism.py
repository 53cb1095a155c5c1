"""Same parameters, same thread count -> the same printed outputs, run after run (fresh kernels, FAST mode).

What is compared: tests/nbcompare.py. When the session also runs a chapter under nbval (``make test``), the chapter
test here is deselected: tests/conftest.py then adds one item after the notebook's nbval cells that runs it once more
in a fresh kernel and compares with what nbval's run printed, so each chapter executes twice, not three times.
"""
from pathlib import Path

import papermill as pm
import pytest

from nbcompare import differences, printed

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


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
    assert differences(printed(nb("1.23")), printed(nb("1.23"))) == ""
    assert "1 outputs differ" in differences(printed(nb("1.23")), printed(nb("1.24")))
    assert "printed 1 and 0 texts" in differences(printed(nb("1.23")), [])
    split = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(x)", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="1."), nbformat.v4.new_output("stream", name="stdout", text="23")])])
    assert printed(split) == [(0, "1.23")]  # one cell's stdout split over two messages compares equal


def test_a_result_a_semicolon_hides_is_not_compared():
    """nbval's run records the result of a cell ending in ';' (Jupyter shows none): it is left out, others are not."""
    from nbcompare import ends_with_semicolon, printed_outputs
    result = {"output_type": "execute_result", "data": {"text/plain": "<Axes: >"}}
    assert ends_with_semicolon("ax.plot(x);") and ends_with_semicolon("f(\n  1);  # a comment\n")
    assert not ends_with_semicolon("x = 'a;'\nx") and not ends_with_semicolon("for i in []:\n    pass")
    assert printed_outputs([(0, "ax.plot(x);", [result]), (1, "ax.plot(x)", [result])]) == [(1, "<Axes: >")]


@pytest.mark.parametrize("name", ["07_llm_z_loss.ipynb", "03_dropout.ipynb"])
def test_two_fresh_runs_print_the_same(name, tmp_path):
    """Two fresh FAST executions print identical text, cell by cell."""
    first, second = run_twice(name, tmp_path)
    assert len(first) > 5
    assert not differences(first, second), differences(first, second)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["01_overfitting.ipynb", "02_weight_decay.ipynb", "04_label_smoothing.ipynb",
                                  "05_augmentation.ipynb", "06_early_stopping.ipynb"])
def test_other_chapters_print_the_same(name, tmp_path):
    """The same check for the remaining chapters (marker slow)."""
    first, second = run_twice(name, tmp_path)
    assert not differences(first, second), differences(first, second)


def test_a_widget_updated_in_place_is_compared_only_where_both_runs_saw_it():
    """nbval records a progress bar as its first widget message; the saved run holds the line its close left there.
    That display is dropped from the saved run; the displays around it are kept, by position."""
    from nbcompare import WIDGET, without_updated_widgets
    text = lambda t: {"output_type": "display_data", "data": {"text/plain": t}}  # noqa: E731
    bar = {"output_type": "display_data", "data": {"text/plain": "fit: 0%", WIDGET: {"model_id": "m"}}}
    out = {"output_type": "stream", "name": "stdout", "text": "loss 1.0\n"}
    recorded = [out, text("first"), bar, text("third")]
    final = [out, text("first"), text("fit: 30/30 epochs"), text("third")]
    assert without_updated_widgets(recorded, final) == [out, text("first"), text("third")]
    assert without_updated_widgets([out, text("a")], [out, text("b")]) == [out, text("b")]  # not a widget: kept


@pytest.mark.parametrize("random_cell, outcome", [(False, {"passed": 8}), (True, {"passed": 7, "failed": 1})])
def test_the_rerun_after_nbval_fails_when_a_fresh_kernel_prints_otherwise(pytester, random_cell, outcome):
    """tests/conftest.py adds one item after a notebook's nbval cells; it passes for a notebook that prints the same
    in every kernel and fails for one that prints a random number."""
    import nbformat
    here = Path(__file__).parent
    for name in ("conftest.py", "nbcompare.py"):
        pytester.makepyfile(**{name[:-3]: (here / name).read_text()})
    cells = [nbformat.v4.new_code_cell(f"print({k})") for k in range(6)]
    cells.append(nbformat.v4.new_code_cell("import random\nprint(random.random())" if random_cell else "print('x')"))
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                        "display_name": "Python 3"}})
    nbformat.write(nb, str(pytester.path / "nb.ipynb"))
    result = pytester.runpytest_subprocess("--nbval-lax", "nb.ipynb", "-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(**outcome)
    verdict = "FAILED" if random_cell else "PASSED"
    result.stdout.fnmatch_lines([f"{verdict} nb.ipynb::a fresh kernel prints the same*"])
