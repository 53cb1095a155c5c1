"""A chapter re-runs under papermill with overridden parameters (the instructor's route), offline."""
from pathlib import Path

import papermill as pm

NB = Path(__file__).resolve().parents[1] / "notebooks" / "01_overfitting.ipynb"


def test_chapter01_with_overridden_parameters(tmp_path):
    """Injected FAST/SEED/EPOCHS reach the notebook (its resolved-settings line says so) and every cell runs."""
    out = tmp_path / "out.ipynb"
    nb = pm.execute_notebook(str(NB), str(out), parameters={"FAST": True, "SEED": 1, "EPOCHS": 25, "DEVICE": "cpu"},
                             cwd=str(NB.parent), kernel_name="python3", progress_bar=False)
    text = "\n".join("".join(o.get("text", "")) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "FAST=True, device=cpu, epochs=25" in text
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "SEED = 1" in injected[0].source
