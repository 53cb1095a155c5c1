"""The package's layers (STYLE.md): panels only wire sliders to an experiment and a plot; experiments and plots
never touch widgets; plots never train."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import regviz

ROOT = Path(regviz.__file__).parent
PANEL_ALLOWED = ("regviz.experiments", "regviz.plots", "regviz.widgets")
WIDGET_MODULES = ("regviz.widgets", "ipywidgets")
TRAINING_MODULES = ("regviz.train", "regviz.sweep", "regviz.lm")


def imported_modules(source: str, module: str) -> set[str]:
    """Absolute names of every module ``source`` (the text of module ``module``, e.g. ``regviz.panels.llm``)
    imports, relative imports resolved; ``from X import name`` also yields ``X.name`` (it may be a module)."""
    names = set()
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def _within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def panel_violations(source: str, module: str) -> list[str]:
    """regviz modules a panel imports other than experiments, plots and widgets."""
    found = []
    for name in sorted(imported_modules(source, module)):
        if not _within(name, ("regviz",)) or name in ("regviz", "regviz.panels"):
            continue
        if not _within(name, PANEL_ALLOWED) and not any(p.startswith(name + ".") for p in PANEL_ALLOWED):
            found.append(name)
    # "from .. import train" gives "regviz" and "regviz.train": the second is caught above
    return found


def forbidden(source: str, module: str, prefixes) -> list[str]:
    return sorted(n for n in imported_modules(source, module) if _within(n, prefixes))


def _modules(folder: str):
    for path in sorted((ROOT / folder).glob("*.py")):
        yield f"regviz.{folder}.{path.stem}", path.read_text()


class TestChecker:
    """The checks can fail: fed sources with forbidden imports, they report them."""

    def test_panel_importing_train_is_caught(self):
        src = "from ..train import fit\nfrom ..plots import CurvesView\nfrom ..widgets import SliderPanel\n"
        assert panel_violations(src, "regviz.panels.fake") == ["regviz.train", "regviz.train.fit"]

    def test_panel_importing_data_by_absolute_name_is_caught(self):
        assert "regviz.data" in panel_violations("import regviz.data\n", "regviz.panels.fake")
        assert "regviz.models" in panel_violations("from regviz import models\n", "regviz.panels.fake")

    def test_allowed_panel_imports_pass(self):
        src = ("from ..experiments.overfitting import train_setting\nfrom ..plots import CurvesView\n"
               "from ..widgets import SliderPanel, choice_slider\nfrom regviz.experiments import llm\n")
        assert panel_violations(src, "regviz.panels.fake") == []

    def test_plots_importing_widgets_or_training_is_caught(self):
        src = "import ipywidgets as W\nfrom .sweep import sweep\n"
        assert forbidden(src, "regviz.plots", WIDGET_MODULES) == ["ipywidgets"]
        assert forbidden(src, "regviz.plots", TRAINING_MODULES) == ["regviz.sweep", "regviz.sweep.sweep"]


class TestLayers:
    """The real package obeys the layers."""

    @pytest.mark.parametrize("module,source", list(_modules("panels")), ids=lambda x: x if "\n" not in x else "")
    def test_panels_import_only_experiments_plots_widgets(self, module, source):
        assert panel_violations(source, module) == [], f"{module} imports {panel_violations(source, module)}"

    @pytest.mark.parametrize("module,source", [*_modules("experiments"), ("regviz.plots", (ROOT / "plots.py").read_text())],
                             ids=lambda x: x if "\n" not in x else "")
    def test_no_widgets_below_the_panels(self, module, source):
        assert forbidden(source, module, WIDGET_MODULES) == []

    def test_plots_never_train(self):
        assert forbidden((ROOT / "plots.py").read_text(), "regviz.plots", TRAINING_MODULES) == []
