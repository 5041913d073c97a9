"""Sphinx configuration of the sklstm documentation.

Build with ``make -C docs html`` (warnings are errors). The gallery in
``examples/`` is executed at build time by sphinx-gallery; the API reference is
generated from the docstrings by autosummary and numpydoc.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: the gallery draws to files

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # document the checkout, not another copy

import sklstm  # noqa: E402

# -- Project -----------------------------------------------------------------
project = "sklstm"
author = "sklstm developers"
copyright = "sklstm developers, BSD-3-Clause"
release = sklstm.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
    "auto_examples/*.pickle",
]

default_role = "literal"
add_module_names = True  # signatures show the import path
pygments_style = "sphinx"
pygments_dark_style = "monokai"

# MyST: ``{eval-rst}`` blocks and definition lists in the Markdown pages
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- API reference (autosummary + numpydoc) ----------------------------------
autosummary_generate = True
autodoc_typehints = "none"  # numpydoc's Parameters sections say it better
autoclass_content = "class"
numpydoc_show_class_members = True  # a table of methods atop each class
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# scikit-learn's generated metadata-routing setters (set_fit_request, ...) and
# set_output cite sections of scikit-learn's own user guide: leave them to it.
_SKLEARN_PLUMBING = {"set_output", "get_metadata_routing"}


_PARAM_LINE = re.compile(r"^(\s*[*\w][\w, *]* : )(.+)$")
_TRAILING_UNDERSCORE = re.compile(r"(?<=\w)_(?=[,)\]\s]|$)")


def _escape_type_underscores(app, what, name, obj, options, lines):
    """Escape ``n_features_in_``-style names in ``name : type`` lines.

    reST reads ``word_`` as a link to a target named ``word``; in a type such
    as ``ndarray of shape (n_features_in_,)`` that is an error. Runs before
    numpydoc, on the raw docstring.
    """
    for i, line in enumerate(lines):
        match = _PARAM_LINE.match(line)
        if match:
            head, kind = match.groups()
            lines[i] = head + _TRAILING_UNDERSCORE.sub(r"\\_", kind)


def _skip_sklearn_plumbing(app, what, name, obj, skip, options):
    if name in _SKLEARN_PLUMBING or (
        name.startswith("set_") and name.endswith("_request")
    ):
        return True
    return skip


# -- Gallery -----------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("sklstm",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"sklstm": None},
    "download_all_examples": False,
    "show_memory": False,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "remove_config_comments": True,
    "plot_gallery": os.environ.get("SKLSTM_DOCS_PLOT_GALLERY", "True") != "False",
    "abort_on_example_error": True,
    "capture_repr": (),  # show printed output only, not the repr of a last expression
}

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklstm {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 6,
    # gallery pages show code up to 88 columns: give them the full width
    # (pages matching no pattern, the gallery's among them, get no sidebar)
    "secondary_sidebar_items": {
        "index": ["page-toc"],
        "api": ["page-toc"],
        "scaling": ["page-toc"],
        "user_guide/*": ["page-toc"],
    },
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}

# torch and sklearn emit deprecation chatter while the gallery runs; it is not
# a documentation problem, so it must not fail a build that uses -W
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=FutureWarning)


# docstrings inherited from scikit-learn (a search's predict, a regressor's
# score) cite scikit-learn's glossary and user guide, which this site lacks:
# their cross-references become plain literals
_SKLEARN_XREF = re.compile(r":(?:term|ref):`([^`<]+?)\s*(?:<[^`>]+>)?`")


def _plain_sklearn_xrefs(app, what, name, obj, options, lines):
    owner = getattr(obj, "fget", obj)  # a property's docstring is its getter's
    if (getattr(owner, "__module__", None) or "").startswith("sklearn."):
        for i, line in enumerate(lines):
            lines[i] = _SKLEARN_XREF.sub(r"``\1``", line)


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_plumbing)
    app.connect("autodoc-process-docstring", _plain_sklearn_xrefs, priority=400)
    # numpydoc rewrites docstrings at the default priority (500): go first
    app.connect("autodoc-process-docstring", _escape_type_underscores, priority=400)
