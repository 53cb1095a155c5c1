"""Sphinx configuration of the course website (scripts/site.py stages the chapters next to this file)."""
project = "regviz: regularisation you can watch"
author = "the regviz course"
extensions = ["myst_nb"]

# The chapters are shown with the outputs saved in them: nothing runs while the site builds.
nb_execution_mode = "off"
nb_output_stderr = "remove"
nb_ipywidgets_js = {}  # no widget JavaScript: slider panels are static (site/_static/static_sliders.js)
myst_enable_extensions = ["dollarmath", "amsmath"]

html_theme = "alabaster"
html_theme_options = {"page_width": "1250px", "sidebar_width": "220px"}
html_static_path = ["_static"]
html_js_files = ["static_sliders.js"]
html_css_files = ["static_sliders.css"]
html_copy_source = False
html_show_sourcelink = False
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
