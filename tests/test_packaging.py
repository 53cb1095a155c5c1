"""The package lists of pyproject.toml, environment.yml and binder/ agree; Binder's layout is valid."""
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch", "pytorch-cpu": "torch"}  # conda-forge name -> PyPI name
CONDA_ONLY = {"python", "pip"}
BINDER_EXTRA = {"jupyter-repo2docker"}  # a test tool: not needed inside the Binder image


def _name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ]", spec.strip(), maxsplit=1)[0].lower()


def _pyproject() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_name(s) for s in meta["dependencies"] + meta["optional-dependencies"]["test"]}


def _conda(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        m = re.match(r"^(\s*)-\s+(.+?)\s*$", line)
        if not m or line.lstrip().startswith("#"):
            continue
        item = m.group(2)
        if item.startswith("pip:"):  # the pip sub-list's packages are listed like the conda ones
            continue
        if item.startswith("-e") or item in ("conda-forge",):
            continue
        n = _name(item)
        names.add(CONDA_NAMES.get(n, n))
    return names - CONDA_ONLY


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            k, v = line.split("==")
            pins[k.lower().replace("_", "-")] = v.strip()
    return pins


class TestPackageLists:
    """One list of packages, three spellings."""

    def test_environment_yml_matches_pyproject(self):
        assert _conda(ROOT / "environment.yml") == _pyproject()

    def test_binder_matches_pyproject(self):
        assert _conda(ROOT / "binder" / "environment.yml") == _pyproject() - BINDER_EXTRA

    def test_binder_uses_cpu_pytorch(self):
        text = (ROOT / "binder" / "environment.yml").read_text()
        assert "pytorch-cpu" in text and "cuda" not in text.lower().replace("# ", "")

    def test_every_dependency_is_pinned(self):
        """make lab / make test install exactly the pinned set: every direct dependency has a pin."""
        pins = _pins()
        missing = sorted(n for n in _pyproject() if n.replace("_", "-") not in pins)
        assert not missing, f"add pins for {missing} (make lock)"
        assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"


class TestVersion:
    """The version is written once, in regviz/__init__.py; the build, the install and the Colab line read it."""

    def test_pyproject_reads_it_from_the_package(self):
        meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
        assert "version" not in meta["project"] and "version" in meta["project"]["dynamic"]
        assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "regviz.__version__"}

    def test_installed_metadata_matches(self):
        import importlib.metadata

        import regviz
        installed = importlib.metadata.version("regviz")
        assert installed == regviz.__version__, (f"installed metadata says {installed}, regviz.__version__ is "
                                                 f"{regviz.__version__}: reinstall (pip install --no-deps -e .)")

    def test_colab_line_uses_it(self):
        """scripts/colab.py (Colab install line and badges, site launch links) tags v<regviz.__version__>."""
        import importlib.util

        import regviz
        spec = importlib.util.spec_from_file_location("colab", ROOT / "scripts" / "colab.py")
        colab = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(colab)
        assert colab.package_version() == colab.project()["version"] == regviz.__version__


@pytest.mark.skipif(shutil.which("repo2docker") is None and not (Path(sys.executable).parent / "repo2docker").exists(),
                    reason="jupyter-repo2docker not installed")
def test_repo2docker_layout():
    """repo2docker (no Docker needed with --no-build) picks binder/environment.yml and runs binder/postBuild."""
    exe = shutil.which("repo2docker") or str(Path(sys.executable).parent / "repo2docker")
    out = subprocess.run([exe, "--no-build", "--no-run", "--debug", str(ROOT)], capture_output=True, text=True,
                         timeout=120)
    text = out.stdout + out.stderr
    assert "binder/environment.yml" in text, text[-2000:]
    assert "./binder/postBuild" in text
    assert "Building conda environment for python=3.11" in text
