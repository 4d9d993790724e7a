"""Sphinx configuration of cypool's documentation.

Build (from the project root; warnings are errors, no network access needed):

    tools/build_docs.sh            # the site, then the docstring examples; see its header
    sphinx-build -W -b html docs docs/_build/html

Sphinx imports cypool: either an installed cypool (``pip install ".[docs]"``; what CI does) or,
when the environment variable ``CYPOOL_DOCS_INPLACE=1`` is set, the source tree itself, which must
then hold an in-place build (``python setup.py build_ext --inplace``). The API reference of
``cypool.torch`` and the PyTorch gallery example need torch (any 2.x CPU build), the Dask pages
and example need ``dask[array]``.
"""
from __future__ import annotations

import os
import sys
import warnings

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if os.environ.get("CYPOOL_DOCS_INPLACE") == "1":
    sys.path.insert(0, ROOT)
    # The gallery runs each example in this process; examples started as scripts would not see
    # sys.path, so the variable is exported for any subprocess too.
    os.environ["PYTHONPATH"] = ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")

import cypool  # noqa: E402

# -- project ----------------------------------------------------------------------------------
project = "cypool"
author = "the cypool developers"
copyright = "2026, the cypool developers"
release = cypool.__version__
version = release

# -- extensions -------------------------------------------------------------------------------
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build", "asv-results", "compare", "**.ipynb_checkpoints",
    # sphinx-gallery writes these next to the generated pages; they are not documents.
    "auto_examples/*.py", "auto_examples/*.ipynb", "auto_examples/*.zip",
    "auto_examples/*.md5", "auto_examples/*.pickle",
]

# Every cross-reference must resolve (a broken internal link fails the -W build). Names from
# other projects are not looked up (no intersphinx: the build needs no network), so references
# to them are accepted as plain text.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|torch|dask|da|typing|collections|os|pathlib)\..*"),
    (r"py:.*", r"(int|float|bool|str|None|tuple|list|dict|callable|object|optional|default"
               r"|array_like|array-like|ndarray|Tensor|Generator|sequence|iterable).*"),
]

# MyST: Markdown pages with the directives of reST; `{ref}` targets from headings.
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

# -- API reference ----------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"             # the numpydoc sections give the types
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False    # the class template lists the methods itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set = set()

# -- gallery ----------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",              # every plot_*.py is executed by the build
    # Scripts of examples/ that are not gallery examples (minutes of run time or gigabytes of
    # disk): documented in the bridges' pages and run by hand.
    "ignore_pattern": r"(dask_large_memmap|torch_bridge_timing)\.py$",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "reference_url": {"cypool": None},
    "min_reported_time": 0,
}
warnings.filterwarnings("ignore", category=UserWarning,
                        message="Matplotlib is currently using agg")

# -- HTML -------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"cypool {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_static_path: list = []
html_show_sourcelink = False
