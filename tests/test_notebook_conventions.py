"""Every chapter notebook follows the course conventions (STYLE.md): checked on the saved .ipynb files."""
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb"))


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _src(cell):
    return "".join(cell["source"])


def test_seven_chapters_named_in_order():
    """Chapters are numbered 01.. with no gaps."""
    nums = [int(p.name[:2]) for p in NOTEBOOKS]
    assert nums == list(range(1, len(nums) + 1)) and len(nums) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
class TestChapter:
    """Structure every chapter shares."""

    def test_first_code_cell_reports_environment(self, path):
        code = [c for c in _cells(path) if c["cell_type"] == "code"]
        assert "environment_report" in _src(code[0])

    def test_parameters_cell(self, path):
        params = [c for c in _cells(path) if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(params) == 1
        src = _src(params[0])
        for knob in ("FAST", "DEVICE", "SEED"):
            assert re.search(rf"^{knob}\s*=", src, re.M), f"{knob} missing from the parameters cell"

    def test_summary_and_exercises(self, path):
        md = "\n".join(_src(c) for c in _cells(path) if c["cell_type"] == "markdown")
        assert "## Summary" in md and "## Exercises" in md

    def test_exercises_have_solutions_and_checks(self, path):
        cells = _cells(path)
        md = "\n".join(_src(c) for c in cells if c["cell_type"] == "markdown")
        numbers = sorted({int(n) for n in re.findall(r"^### Exercise (\d+)", md, re.M)})
        assert 3 <= len(numbers) <= 5, f"{len(numbers)} exercises"
        code = [_src(c) for c in cells if c["cell_type"] == "code"]
        begins = sum(s.count("### BEGIN SOLUTION") for s in code)
        ends = sum(s.count("### END SOLUTION") for s in code)
        assert begins == ends >= len(numbers)
        for n in numbers:
            assert any(s.lstrip().startswith(f"# CHECK exercise {n}") for s in code), f"no check cell for exercise {n}"

    def test_no_saved_errors(self, path):
        for c in _cells(path):
            for o in c.get("outputs", []):
                assert o.get("output_type") != "error", f"saved error output: {o.get('ename')}"

    def test_cites_a_paper(self, path):
        md = "\n".join(_src(c) for c in _cells(path) if c["cell_type"] == "markdown")
        assert re.search(r"\b(19|20)\d\d\b", md), "no cited paper year in the text"

    def test_saved_from_a_full_run(self, path):
        """The committed outputs come from a full-mode run: the mode line says "full" and no cell says FAST."""
        from regviz import mode_line
        text = "\n".join("".join(o.get("text", "")) for c in _cells(path) for o in c.get("outputs", [])
                         if o.get("output_type") == "stream")
        assert mode_line(False) in text, "no full-mode line in the saved outputs: execute the chapter with FAST=False"
        assert mode_line(True) not in text, "saved from a FAST run"

    def test_mode_line_follows_the_parameters(self, path):
        """The cell after the parameters cell prints regviz.mode_line(FAST)."""
        cells = [c for c in _cells(path) if c["cell_type"] == "code"]
        i = next(i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))
        assert "mode_line(FAST)" in _src(cells[i + 1])
