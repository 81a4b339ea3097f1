"""Sphinx configuration of the mt-envs documentation.

Build (warnings are errors)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

Env pages and the task-set page are generated from code at build start into ``docs/_generated/``
by the local extension ``docs/_ext/mt_docgen.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import mt_envs  # noqa: E402  (after the path set-up above; the package itself is installed)

# -- project --------------------------------------------------------------------------------------
project = "mt-envs"
author = "mt-envs developers"
copyright = "mt-envs developers"
release = mt_envs.__version__
version = ".".join(release.split(".")[:2])

# -- extensions -----------------------------------------------------------------------------------
# No intersphinx: the build must work offline, and intersphinx fetches its inventories.
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "mt_docgen",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated/includes", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# -- MyST -----------------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- autodoc / napoleon ---------------------------------------------------------------------------
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {"show-inheritance": True}
autodoc_preserve_defaults = True
autodoc_inherit_docstrings = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_include_init_with_doc = False
napoleon_use_rtype = False

# -- HTML -----------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"mt-envs {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_last_updated_fmt = None  # deterministic pages
