"""regviz.progress: a closed bar leaves its final line in a saved notebook, not the 0% its widget first showed."""
import nbformat
import pytest

from regviz.progress import final_text, in_notebook, progress_bar
from test_notebook_outputs import frozen_progress_bars  # tests/ is on sys.path (rootdir conftest, no __init__)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class TestFinalText:
    """The line a closed bar leaves behind."""

    def test_finished(self):
        assert final_text("fit", 5, 5, "epoch", "val_loss=1.2") == "fit: 5/5 epochs, val_loss=1.2"

    def test_stopped_early_says_so(self):
        assert final_text("fit", 3, 5, "epoch") == "fit: stopped after 3 of 5 epochs"

    def test_unknown_total(self):
        assert final_text("", 7, None, "it") == "7 its"


class TestOutsideANotebook:
    """In pytest (no kernel) the bar is tqdm's text bar, which erases itself."""

    def test_text_bar_counts_and_closes(self, capsys):
        assert not in_notebook()
        bar = progress_bar(total=4, desc="fit", unit="epoch")
        for _ in range(4):
            bar.update(1)
        bar.close()
        assert bar.n == 4 and not bar.leave
        last = capsys.readouterr().err.split("\r")[-1]
        assert "4/4" not in last and "0/4" not in last  # nothing left on the line

    def test_wraps_an_iterable(self):
        assert list(progress_bar([1, 2, 3], desc="x", disable=True)) == [1, 2, 3]


def _run_in_kernel(source: str) -> nbformat.NotebookNode:
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=True).execute(
        env={"OMP_NUM_THREADS": "1", "REGVIZ_DEVICE": "cpu"})
    return nb


def test_saved_notebook_keeps_the_final_line():
    """A real kernel: fit's bar (5 epochs) and an early-stopped bar are saved as their final lines, no widget."""
    nb = _run_in_kernel(
        "import regviz\n"
        "from regviz.progress import progress_bar\n"
        "data = regviz.load_dataset('moons', n_train=64, n_val=64, seed=0, device='cpu')\n"
        "h = regviz.fit(regviz.MLP(2, 2, width=8, depth=1), data, epochs=5, lr=1e-2, seed=0, device='cpu')\n"
        "bar = progress_bar(total=4, desc='manual', unit='step')\n"
        "bar.update(3); bar.close()\n")
    outs = nb.cells[0].outputs
    assert not [o for o in outs if o.get("output_type") == "error"], outs
    texts = [o["data"]["text/plain"] for o in outs if "data" in o]
    assert not [o for o in outs if WIDGET_VIEW in o.get("data", {})], "a progress widget is still in the outputs"
    assert texts[0].startswith("fit: 5/5 epochs, train_loss=") and "val_loss=" in texts[0]
    assert texts[1] == "manual: stopped after 3 of 4 steps"
    assert frozen_progress_bars(nb) == []  # the committed-notebook check passes on what the fixed bar saves
