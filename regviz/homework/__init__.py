"""Homework kit: release student copies of the chapters and autograde a class's submissions, each in a sandbox.

Solution markers follow nbgrader (Project Jupyter et al., "nbgrader: A Tool for Creating and Grading
Assignments in the Jupyter Notebook", JOSE 2019); kernels run under bubblewrap (or docker/podman); marks
come from probes judged in the grader against a clean reference kernel (probes.py), and grader-planted
canary checks flag tampering; a class is graded on Dask distributed, one task per submission. CLI:
`python -m regviz.homework`; nbgrader metadata: `python -m regviz.homework.nbgrader_meta notebooks/`.
"""
from .grade import grade_notebook, honest_canaries, reference_run
from .notebook import Exercise, find_exercises, needed_cells, resolve_chapter, slice_notebook
from .release import clear_solutions, release, release_notebook
from .results import Grade, write_csv
from .sandbox import Sandbox
from .classrun import grade  # last: the name `grade` is the function, not the submodule grade.py

__all__ = [
    "Exercise", "Grade", "Sandbox", "honest_canaries", "clear_solutions", "find_exercises", "grade",
    "grade_notebook", "needed_cells", "reference_run", "release", "release_notebook", "resolve_chapter", "slice_notebook", "write_csv",
]
