"""Homework kit: release student copies of the chapters and autograde a class's submissions.

Solution markers follow nbgrader (Project Jupyter et al., "nbgrader: A Tool for Creating and Grading
Assignments in the Jupyter Notebook", JOSE 2019); execution uses papermill. CLI: `python -m regviz.homework`.
"""
from .grade import Grade, grade, grade_notebook, write_csv
from .notebook import Exercise, find_exercises, needed_cells, resolve_chapter, slice_notebook
from .release import clear_solutions, release, release_notebook

__all__ = [
    "Exercise", "Grade", "clear_solutions", "find_exercises", "grade", "grade_notebook", "needed_cells",
    "release", "release_notebook", "resolve_chapter", "slice_notebook", "write_csv",
]
