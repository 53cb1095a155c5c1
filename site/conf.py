"""Sphinx configuration of the course website: sphinx-book-theme (Jupyter Book's theme) on MyST-NB.

scripts/site.py stages the chapters next to this file and writes ``_site.json`` beside it: the repository address
and tag (from pyproject.toml, the one place they are written) for the launch buttons, and the copyright line
(from LICENSE).
"""
import json
from pathlib import Path

_site = json.loads((Path(__file__).parent / "_site.json").read_text())

project = "regviz: regularisation you can watch"
author = _site["author"]
copyright = _site["copyright"]
extensions = ["myst_nb", "sphinx-mathjax-offline"]  # MathJax 3 shipped in _static/mathjax: no CDN

# The chapters are shown with the outputs saved in them: nothing runs while the site builds.
nb_execution_mode = "off"
nb_output_stderr = "remove"
nb_ipywidgets_js = {}  # no widget JavaScript: slider panels are static (site/_static/static_sliders.js)
myst_enable_extensions = ["dollarmath", "amsmath"]
mathjax_path = "mathjax/tex-chtml.js"  # relative to _static (sphinx-mathjax-offline copies it there)

html_theme = "sphinx_book_theme"
html_title = "regviz"
html_theme_options = {
    "repository_url": _site["repository_url"],
    "repository_branch": _site["revision"],  # the tag Colab's set-up block installs
    "path_to_docs": "notebooks",  # each page is notebooks/<name>.ipynb in the repository
    "launch_buttons": {"binderhub_url": "https://mybinder.org", "colab_url": "https://colab.research.google.com",
                       "notebook_interface": "jupyterlab"},
    "use_download_button": True,  # the committed notebook (scripts/site.py puts it in _sources/)
    "use_repository_button": True,
    "use_fullscreen_button": False,
    "show_toc_level": 2,  # the in-page outline: sections and subsections
    "home_page_in_toc": True,
    "show_prev_next": True,
}
# Light unless the reader picked a mode: the panels' matplotlib pictures have white backgrounds (and an empty
# default makes the theme warn "Got invalid theme mode" in the console).
html_context = {"default_mode": "light"}
html_static_path = ["_static"]
html_js_files = ["static_sliders.js"]
html_css_files = ["static_sliders.css", "course.css"]
html_copy_source = True  # the download button's file
html_sourcelink_suffix = ""  # _sources/01_overfitting.ipynb, not .ipynb.txt
html_show_sourcelink = False
exclude_patterns = ["_build", "**.ipynb_checkpoints", "_site.json"]
