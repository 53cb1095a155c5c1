"""The Colab set-up block and badges (scripts/colab.py): run with a stand-in ``google.colab`` module.

The block is taken from a notebook the script updated (a temporary copy), so what runs here is what a chapter
holds. On "Colab" it really installs regviz with pip, from a local copy instead of the repository URL.
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))


def _load_script():
    spec = importlib.util.spec_from_file_location("colab_script", ROOT / "scripts" / "colab.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


colab = _load_script()


def _src(cell):
    return "".join(cell["source"])


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Copies of the notebooks, README and pyproject, updated by the script."""
    root = tmp_path_factory.mktemp("course")
    (root / "notebooks").mkdir()
    for p in NOTEBOOKS:
        shutil.copy(p, root / "notebooks" / p.name)
    shutil.copy(ROOT / "README.md", root / "README.md")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    paths = [*sorted((root / "notebooks").glob("*.ipynb")), root / "README.md"]
    assert colab.main([*map(str, paths), "--pyproject", str(root / "pyproject.toml")]) == 0
    return root


def _setup_block(nb_path):
    """The set-up block at the top of the notebook's first code cell."""
    cells = json.loads(nb_path.read_text())["cells"]
    src = _src(next(c for c in cells if c["cell_type"] == "code"))
    assert src.startswith(colab.BEGIN)
    return src[: src.index(colab.END) + len(colab.END)] + "\n"


def _fake_colab(calls):
    """Stand-ins for google, google.colab and google.colab.output, recording enable_custom_widget_manager()."""
    google, gcolab, output = (types.ModuleType(n) for n in ("google", "google.colab", "google.colab.output"))
    output.enable_custom_widget_manager = lambda: calls.append("enable_custom_widget_manager")
    google.colab, gcolab.output = gcolab, output
    return {"google": google, "google.colab": gcolab, "google.colab.output": output}


class TestSetupBlock:
    """What the first code cell does on Colab and elsewhere."""

    def test_elsewhere_does_nothing_and_prints_nothing(self, course, capsys, monkeypatch):
        """Outside Colab: no pip, no widget manager, no output, and the names it leaves are harmless."""
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
        monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pip ran outside Colab"))
        ns = {}
        exec(_setup_block(course / "notebooks" / "03_dropout.ipynb"), ns)
        out = capsys.readouterr()
        assert out.out == "" and out.err == ""
        assert set(ns) - {"__builtins__"} == {"sys"}

    def test_on_colab_with_regviz_present(self, course, capsys, monkeypatch):
        """On Colab with regviz installed: no pip; the widget manager is switched on; the device is printed."""
        calls = []
        for name, mod in _fake_colab(calls).items():
            monkeypatch.setitem(sys.modules, name, mod)
        monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pip ran although regviz is installed"))
        monkeypatch.setenv("REGVIZ_DEVICE", "cpu")
        import regviz.data
        asked = []  # FashionMNIST missing (Colab has no Debian package): the block asks torchvision for it, once
        monkeypatch.setattr(regviz.data, "find_fashion_mnist",
                            lambda root=None, download=False: asked.append(download) or (("x",) if download else None))
        exec(_setup_block(course / "notebooks" / "01_overfitting.ipynb"), {})
        import regviz
        assert asked == [False, True]
        assert calls == ["enable_custom_widget_manager"]
        assert capsys.readouterr().out == (f"Colab: regviz {regviz.__version__} on cpu "
                                           "(for a GPU: Runtime > Change runtime type > T4 GPU)\n")

    def test_on_colab_installs_and_continues(self, course, tmp_path):
        """On Colab without regviz: pip installs it (here from a local copy, offline), then the chapter imports it.

        A Python started with -S sees the project's dependencies but not its editable regviz; pip installs
        into a fresh target folder on that Python's path (PIP_TARGET), with no index and no build isolation.
        """
        block = _setup_block(course / "notebooks" / "07_llm_z_loss.ipynb")
        url = colab.install_source(colab.project()["urls"]["Repository"], f"v{colab.project()['version']}")
        assert block.count(f'"{url}"') == 1  # the stated repository and revision, in the cell
        src = tmp_path / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, src / name)
        shutil.copytree(ROOT / "regviz", src / "regviz", ignore=shutil.ignore_patterns("__pycache__"))
        target = tmp_path / "site"
        target.mkdir()
        cell = block.replace(f'"{url}"', json.dumps(str(src))) + "import regviz\nprint('imported', regviz.__file__)\n"
        harness = tmp_path / "harness.py"
        harness.write_text(textwrap.dedent(f"""
            import sys, types
            sys.path[:] = [{str(target)!r}] + [p for p in sys.path if p != {str(ROOT)!r}]
            sys.path.append({sysconfig.get_paths()["purelib"]!r})  # the dependencies; their .pth files do not run
            assert "regviz" not in sys.modules
            calls = []
            google, gcolab, output = (types.ModuleType(n) for n in ("google", "google.colab", "google.colab.output"))
            output.enable_custom_widget_manager = lambda: calls.append("enabled")
            google.colab, gcolab.output = gcolab, output
            sys.modules.update({{"google": google, "google.colab": gcolab, "google.colab.output": output}})
            exec(compile(open(sys.argv[1]).read(), "first code cell", "exec"), {{"__name__": "__main__"}})
            print("calls", calls)
        """))
        (tmp_path / "cell.py").write_text(cell)
        env = {**os.environ, "PIP_TARGET": str(target), "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0",
               "PIP_DISABLE_PIP_VERSION_CHECK": "1", "REGVIZ_DEVICE": "cpu", "PYTHONPATH": ""}
        r = subprocess.run([sys.executable, "-S", str(harness), str(tmp_path / "cell.py")], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        lines = r.stdout.splitlines()
        assert lines[0].startswith("Colab: regviz 0.1.0 on cpu"), r.stdout
        assert lines[1] == f"imported {target / 'regviz' / '__init__.py'}"  # the freshly installed copy
        assert lines[2] == "calls ['enabled']"
        assert (target / "regviz" / "widgets.py").read_text() == (ROOT / "regviz" / "widgets.py").read_text()


class TestScript:
    """scripts/colab.py: built from pyproject's URL, idempotent, and the chapters keep their conventions."""

    def test_idempotent(self, course):
        paths = [*sorted((course / "notebooks").glob("*.ipynb")), course / "README.md"]
        before = [p.read_text() for p in paths]
        assert colab.main([*map(str, paths), "--pyproject", str(course / "pyproject.toml"), "--check"]) == 0
        assert colab.main([*map(str, paths), "--pyproject", str(course / "pyproject.toml")]) == 0
        assert [p.read_text() for p in paths] == before

    @pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
    def test_notebook_layout(self, course, name):
        """Badge under the title; set-up block first, before `import regviz`; the rest of the chapter unchanged."""
        new = json.loads((course / "notebooks" / name).read_text())["cells"]
        old = json.loads((ROOT / "notebooks" / name).read_text())["cells"]
        assert len(new) == len(old)
        url = colab.project()["urls"]["Repository"]
        owner_repo = colab.github_repo(url)
        title = _src(new[0]).splitlines()
        assert title[0].startswith("# ") and title[2] == (
            f"[![Open In Colab]({colab.BADGE_IMG})](https://colab.research.google.com/github/{owner_repo}"
            f"/blob/v{colab.project()['version']}/notebooks/{name})")
        first = next(i for i, c in enumerate(new) if c["cell_type"] == "code")
        src = _src(new[first])
        assert src.startswith(colab.BEGIN) and re.search(r"^import regviz", src[src.index(colab.END):], re.M)
        rest = src[src.index(colab.END) + len(colab.END):]
        assert colab.BEGIN not in rest and "environment_report" in rest
        assert _src(old[first]).endswith(rest)  # the committed cell is the same code, with or without the block
        changed = [i for i, (a, b) in enumerate(zip(old, new)) if a != b]
        assert set(changed) <= {0, first}  # nothing else (empty once the committed notebooks are up to date)

    def test_urls_follow_pyproject(self, tmp_path):
        """Another address in pyproject.toml changes the badges, the Binder link and the install line."""
        pyproject = tmp_path / "pyproject.toml"
        pyproject.write_text((ROOT / "pyproject.toml").read_text().replace(
            colab.project()["urls"]["Repository"], "https://github.com/someone/regviz-course"))
        nb, readme = tmp_path / "03_dropout.ipynb", tmp_path / "README.md"
        shutil.copy(ROOT / "notebooks" / nb.name, nb)
        shutil.copy(ROOT / "README.md", readme)
        colab.main([str(nb), str(readme), "--pyproject", str(pyproject), "--revision", "abc123"])
        text = nb.read_text() + readme.read_text()
        assert "git+https://github.com/someone/regviz-course@abc123" in text
        assert "colab.research.google.com/github/someone/regviz-course/blob/abc123/notebooks/03_dropout.ipynb" in text
        assert "mybinder.org/v2/gh/someone/regviz-course/HEAD" in text
        assert not re.search(r"(\]\(|git\+)[^)\s\"]*OWNER", text)  # no link or install line left on the old one

    def test_readme_chapter_table(self, course):
        """One Colab badge per chapter row, in a column of its own."""
        rows = [line for line in (course / "README.md").read_text().splitlines() if re.match(r"\| \d+ \| `0", line)]
        assert len(rows) == len(NOTEBOOKS)
        for row, path in zip(rows, NOTEBOOKS):
            assert row.endswith(f"/notebooks/{path.name}) |") and row.count("Open In Colab") == 1

    def test_not_github_is_refused(self):
        with pytest.raises(ValueError, match="github.com/OWNER/NAME"):
            colab.github_repo("https://gitlab.com/x/regviz")

    def test_every_runtime_dependency_is_placed(self):
        """Each dependency in pyproject is either preinstalled on Colab, installed by the block, or not needed."""
        names = {re.match(r"[A-Za-z0-9_.\-]+", d)[0].lower() for d in colab.project()["dependencies"]}
        placed = {*colab.COLAB_EXTRAS, *colab.COLAB_PREINSTALLED, *colab.NOT_NEEDED_ON_COLAB}
        assert names == placed


def test_committed_files_are_up_to_date():
    """The committed notebooks and README hold what `python scripts/colab.py` writes (run it after changes)."""
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "colab.py"), "--check"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr
