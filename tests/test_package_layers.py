"""The package's layers (STYLE.md): panels only wire an experiment to a view; nothing below the panels touches
widgets; what draws never trains; the leaves import no higher floor; homework is its own corner; no cycles."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

import regviz

ROOT = Path(regviz.__file__).parent
NOTEBOOKS = sorted((ROOT.parent / "notebooks").glob("[0-9]*.ipynb"))
PANEL_ALLOWED = ("regviz.experiments", "regviz.views", "regviz.widgets")
WIDGET_MODULES = ("regviz.widgets", "ipywidgets")
# what trains, or pulls the training loop in: the package face imports fit and sweep
TRAINING_MODULES = ("regviz.train", "regviz.sweep", "regviz.lm", "regviz.experiments")
DRAWING = ("regviz.artists", "regviz.plots", "regviz.views", "regviz.frames")  # draw stored results only
# calibration's one deferred import: chapters 04-05 still import fit_recording from there (drop it when they don't)
CALIBRATION_SHIM = {"regviz.experiments.recording", "regviz.experiments.recording.fit_recording"}


def imported_modules(source: str, module: str, *, top_level_only: bool = False) -> set[str]:
    """Absolute names of every module ``source`` (the text of module ``module``, e.g. ``regviz.panels.llm``)
    imports, relative imports resolved; ``from X import name`` also yields ``X.name`` (it may be a module).

    ``top_level_only``: only imports that run when the module is imported (not those inside functions)."""
    names = set()
    is_package = module.endswith(".__init__")
    module = module.removesuffix(".__init__")
    package = module if is_package else module.rsplit(".", 1)[0]
    tree = ast.parse(source)
    nodes = ast.walk(tree) if not top_level_only else (
        n for top in tree.body if not isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        for n in ast.walk(top))
    for node in nodes:
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
    """regviz modules a panel imports other than experiments, views and widgets."""
    found = []
    for name in sorted(imported_modules(source, module)):
        if not _within(name, ("regviz",)) or name in ("regviz", "regviz.panels"):
            continue
        if not _within(name, PANEL_ALLOWED) and not any(p.startswith(name + ".") for p in PANEL_ALLOWED):
            found.append(name)
    # "from .. import train" gives "regviz" and "regviz.train": the second is caught above
    return found


def forbidden(source: str, module: str, prefixes, **kw) -> list[str]:
    return sorted(n for n in imported_modules(source, module, **kw) if _within(n, prefixes))


def regviz_imports(source: str, module: str, **kw) -> list[str]:
    """Every regviz name ``module`` imports, the package face included."""
    return forbidden(source, module, ("regviz",), **kw)


def _name(path: Path) -> str:
    return ".".join(("regviz",) + path.relative_to(ROOT).with_suffix("").parts)


MODULES = {_name(p): p.read_text() for p in sorted(ROOT.rglob("*.py"))}  # "regviz.plots.__init__": source
PACKAGE_MODULES = {m.removesuffix(".__init__") for m in MODULES}  # importable names: "regviz.plots"


def _modules(*prefixes):
    return [(m, s) for m, s in MODULES.items() if _within(m, prefixes)]


def _ids(x):
    return x if "\n" not in x else ""


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One path per import cycle found by a depth-first walk over ``{module: modules it imports}``."""
    found, state = [], {}

    def walk(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            walk(node, [node])
    return found


def import_graph(modules: dict[str, str]) -> dict[str, set[str]]:
    """``{module: regviz modules it imports}`` (nested imports included: a deferred import is a latent edge)."""
    names = {m.removesuffix(".__init__") for m in modules}
    return {m.removesuffix(".__init__"): {n for n in imported_modules(src, m) if n in names} - {m.removesuffix(".__init__")}
            for m, src in modules.items()}


def torch_free(modules: dict[str, str]) -> set[str]:
    """regviz modules (not packages) that import neither torch nor, through regviz, a module that does."""
    graph = import_graph(modules)
    heavy = {m.removesuffix(".__init__") for m, src in modules.items()
             if m.endswith(".__init__") or _within_any(imported_modules(src, m), ("torch", "torchvision"))}
    changed = True
    while changed:  # a module importing a heavy one is heavy
        grown = heavy | {m for m, deps in graph.items() if deps & heavy}
        changed, heavy = grown != heavy, grown
    return set(graph) - heavy


def _within_any(names, prefixes) -> bool:
    return any(_within(n, prefixes) for n in names)


class TestChecker:
    """The checks can fail: fed sources with forbidden imports, they report them."""

    def test_panel_importing_train_is_caught(self):
        src = "from ..train import fit\nfrom ..views.overfitting import CurvesView\nfrom ..widgets import SliderPanel\n"
        assert panel_violations(src, "regviz.panels.fake") == ["regviz.train", "regviz.train.fit"]

    def test_panel_importing_data_or_plots_by_absolute_name_is_caught(self):
        assert "regviz.data" in panel_violations("import regviz.data\n", "regviz.panels.fake")
        assert "regviz.models" in panel_violations("from regviz import models\n", "regviz.panels.fake")
        assert "regviz.plots" in panel_violations("from ..plots import plot_curves\n", "regviz.panels.fake")

    def test_allowed_panel_imports_pass(self):
        src = ("from ..experiments.overfitting import train_setting\nfrom ..views.overfitting import CurvesView\n"
               "from ..widgets import SliderPanel, choice_slider\nfrom regviz.experiments import llm\n")
        assert panel_violations(src, "regviz.panels.fake") == []

    def test_drawing_importing_widgets_or_training_is_caught(self):
        src = "import ipywidgets as W\nfrom ..sweep import sweep\nfrom .. import MLP\n"
        assert forbidden(src, "regviz.views.fake", WIDGET_MODULES) == ["ipywidgets"]
        assert forbidden(src, "regviz.views.fake", TRAINING_MODULES) == ["regviz.sweep", "regviz.sweep.sweep"]
        assert "regviz" in regviz_imports(src, "regviz.views.fake")  # the face: it imports fit and sweep

    def test_package_relative_imports_resolve_from_the_package(self):
        assert imported_modules("from .curves import plot_curves\n", "regviz.plots.__init__") == \
            {"regviz.plots.curves", "regviz.plots.curves.plot_curves"}

    def test_deferred_imports_are_told_apart(self):
        src = "import os\n\ndef f():\n    from .train import fit\n"
        assert forbidden(src, "regviz.x", TRAINING_MODULES) == ["regviz.train", "regviz.train.fit"]
        assert forbidden(src, "regviz.x", TRAINING_MODULES, top_level_only=True) == []

    def test_torch_free_follows_imports(self):
        mods = {"regviz.a": "import os\n", "regviz.b": "from .a import x\n", "regviz.c": "import torch\n",
                "regviz.d": "def f():\n    from .c import y\n"}
        assert torch_free(mods) == {"regviz.a", "regviz.b"}

    def test_a_cycle_is_found_a_tree_is_not(self):
        assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
        assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
        graph = import_graph({"regviz.device": "def f():\n    from . import __version__\n",
                              "regviz.__init__": "from .device import seeded\n"})
        assert cycles(graph) == [["regviz", "regviz.device", "regviz"]]


class TestLayers:
    """The real package obeys the layers."""

    @pytest.mark.parametrize("module,source", _modules("regviz.panels"), ids=_ids)
    def test_panels_import_only_experiments_views_widgets(self, module, source):
        assert panel_violations(source, module) == [], f"{module} imports {panel_violations(source, module)}"

    @pytest.mark.parametrize("module,source", [(m, s) for m, s in _modules("regviz.panels")
                                               if not m.endswith("__init__")], ids=_ids)
    def test_a_chapter_reads_experiments_views_panels(self, module, source):
        """panels/X wires experiments/X to views/X (the same chapter name in all three folders)."""
        chapter = module.rsplit(".", 1)[1]
        names = imported_modules(source, module)
        assert {f"regviz.experiments.{chapter}", f"regviz.views.{chapter}"} <= names, f"{module} imports {names}"

    @pytest.mark.parametrize("module,source", [(m, s) for m, s in MODULES.items()
                                               if m != "regviz.widgets" and not _within(m, ("regviz.panels",))],
                             ids=_ids)
    def test_no_widgets_below_the_panels(self, module, source):
        assert forbidden(source, module, WIDGET_MODULES) == []

    @pytest.mark.parametrize("module,source", _modules(*DRAWING), ids=_ids)
    def test_drawing_never_trains(self, module, source):
        """Plots, views, their artists and the frame export import no training module and not the face."""
        found = forbidden(source, module, TRAINING_MODULES) + [n for n in regviz_imports(source, module)
                                                               if n == "regviz"]
        assert found == [], f"{module} imports {found}"

    def test_frames_stand_alone(self):
        """scripts/site.py loads regviz/frames.py by its path: it may import nothing from regviz."""
        assert regviz_imports(MODULES["regviz.frames"], "regviz.frames") == []

    def test_device_is_a_leaf(self):
        """device.py imports no regviz module, the package face least of all (that was a latent cycle)."""
        assert regviz_imports(MODULES["regviz.device"], "regviz.device") == []

    def test_calibration_never_trains(self):
        """calibration.py imports nothing that trains; its one deferred import is the fit_recording re-export."""
        src = MODULES["regviz.calibration"]
        at_import = forbidden(src, "regviz.calibration", TRAINING_MODULES + ("regviz.data",), top_level_only=True)
        assert at_import == [] and "regviz" not in regviz_imports(src, "regviz.calibration")
        assert set(forbidden(src, "regviz.calibration", TRAINING_MODULES)) <= CALIBRATION_SHIM

    @pytest.mark.parametrize("module,source", _modules("regviz.homework"), ids=_ids)
    def test_homework_imports_nothing_above_it(self, module, source):
        """The grader's corner: besides itself it may use only torch-free leaves (``progress``, ``validate``),
        never ``regviz.data`` & co, which pull torch into the grader."""
        leaves = torch_free(MODULES)
        outside = [n for n in regviz_imports(source, module) if not _within(n, ("regviz.homework",))
                   and n not in leaves and n.rpartition(".")[0] not in leaves]
        assert outside == [], f"{module} imports {outside}"

    def test_no_import_cycles(self):
        """No cycle among regviz's modules, counting imports deferred into functions (a latent cycle)."""
        assert cycles(import_graph(MODULES)) == []


def _notebook_names():
    """``(notebook, module, name)`` for every ``from regviz... import name`` in a chapter, and every
    ``alias.name`` used on a regviz module imported as ``alias`` (``from regviz import plots``)."""
    out = set()
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        src = "\n".join(re.sub(r"^\s*[%!].*$", "", "".join(c["source"]), flags=re.M)
                        for c in cells if c["cell_type"] == "code")
        tree = ast.parse(src)
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "regviz":
                for a in node.names:
                    out.add((path.name, node.module, a.name))
                    if f"{node.module}.{a.name}" in PACKAGE_MODULES:  # a module: its attributes are names too
                        aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                out.add((path.name, aliases[node.value.id], node.attr))
    return sorted(out)


class TestNotebookNames:
    """Every regviz name a chapter imports (or reads off an imported module) is still there."""

    @pytest.mark.parametrize("notebook,module,name", _notebook_names())
    def test_importable(self, notebook, module, name):
        import importlib

        where = importlib.import_module(module)
        if not hasattr(where, name):  # a submodule, not yet imported (e.g. ``from regviz.panels import dropout``)
            importlib.import_module(f"{module}.{name}")
        else:
            assert getattr(where, name) is not None


def imported_test_helpers(source: str) -> list[str]:
    """Modules of tests/ that ``source`` imports, and any sys.path entry it builds from a folder named tests."""
    own = {p.stem for p in (ROOT.parent / "tests").glob("*.py")}
    found = sorted(n for n in imported_modules(source, "benchmarks.x") if n.split(".")[0] in own)
    if re.search(r"""sys\.path\.\w+\(.*["']tests["']""", source):
        found.append("sys.path <- tests/")
    return found


class TestBenchmarks:
    """A benchmark measures the course's code; it does not lean on the test suite (issue 21)."""

    def test_checker_catches_a_test_helper(self):
        src = 'import sys\nsys.path.insert(0, str(ROOT / "tests"))\nimport test_stacked\n'
        assert imported_test_helpers(src) == ["test_stacked", "sys.path <- tests/"]

    @pytest.mark.parametrize("path", sorted((ROOT.parent / "benchmarks").glob("*.py")), ids=lambda p: p.name)
    def test_no_benchmark_imports_test_helpers(self, path):
        assert imported_test_helpers(path.read_text()) == []
