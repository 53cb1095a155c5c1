"""Shared fixtures: everything on the CPU, tiny, offline."""
import os

import matplotlib
import pytest

matplotlib.use("agg")
os.environ.setdefault("REGVIZ_DEVICE", "cpu")


@pytest.fixture(scope="session")
def digits():
    import regviz
    return regviz.load_dataset("digits", n_train=120, n_val=200, seed=0, device="cpu")


# ---------------------------------------------------------------- nbval's run is the first of a chapter's two runs

RERUN_NAME = "a fresh kernel prints the same"
DETERMINISM_TESTS = ("test_two_fresh_runs_print_the_same", "test_other_chapters_print_the_same")


class FreshKernelRerun(pytest.Item):
    """Runs after a notebook's nbval cells: one more execution in a fresh kernel (papermill, no injected parameters,
    so the same environment as nbval's, REGVIZ_FAST included) must print what nbval's run printed, cell by cell.
    Its node id starts with the notebook's path, so ``--dist loadfile`` keeps it on the worker that ran the cells."""

    def __init__(self, *, cells, **kwargs):
        super().__init__(**kwargs)
        self.cells = cells

    def runtest(self):
        import tempfile

        import papermill as pm
        from nbcompare import differences, printed_outputs, without_updated_widgets

        ran = [c for c in self.cells if not c.options.get("skip")]
        if any(c.test_outputs is None for c in ran):
            pytest.skip("nbval did not run every cell of this notebook: nothing to compare with")
        if any(o.get("output_type") == "error" for c in ran for o in c.test_outputs):
            pytest.skip("a cell failed under nbval (reported there): nothing to compare with")
        first = printed_outputs((c.cell_num, c.cell.source, c.test_outputs) for c in ran)
        kernel = getattr(self.parent, "kernel", None)  # nbval's, idle now: its memory back before the rerun
        if kernel is not None and kernel.is_alive():
            kernel.stop()  # nbval's own teardown stops only a live kernel
        with tempfile.TemporaryDirectory() as tmp:
            nb = pm.execute_notebook(str(self.path), f"{tmp}/rerun.ipynb", cwd=str(self.path.parent),
                                     kernel_name="python3", progress_bar=False,
                                     execution_timeout=self.config.getoption("nbval_cell_timeout", 600))
        code = [c for c in nb.cells if c.cell_type == "code"]
        second = printed_outputs((c.cell_num, c.cell.source,
                                  without_updated_widgets(c.test_outputs, code[c.cell_num].get("outputs", [])))
                                 for c in ran)
        assert len(first) > 5, f"nbval's run printed only {len(first)} texts"
        assert not differences(first, second), differences(first, second)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}: {self.name}"


@pytest.hookimpl(trylast=True)  # after -k / -m deselection: only notebooks whose cells will run
def pytest_collection_modifyitems(config, items):
    cells: dict = {}
    for item in items:
        if type(item).__name__ == "IPyNbCell":  # nbval's item: one per code cell
            cells.setdefault(item.parent, []).append(item)
    if not cells:
        return
    last = {nb_cells[-1]: parent for parent, nb_cells in cells.items()}
    covered = {parent.path.name for parent in cells}
    kept, dropped = [], []
    for item in items:
        if getattr(item, "originalname", None) in DETERMINISM_TESTS and \
                item.callspec.params.get("name") in covered:
            dropped.append(item)  # the rerun below checks this chapter, against nbval's run
            continue
        kept.append(item)
        if item in last:
            parent = last[item]
            kept.append(FreshKernelRerun.from_parent(parent, name=RERUN_NAME, cells=cells[parent]))
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept
