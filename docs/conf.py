"""Sphinx configuration of the cutmix_jax documentation: MyST pages and an API reference built
from the docstrings (autodoc, Google style through napoleon), as flax, optax and orbax build
theirs. Build: `sphinx-build -W -b html docs docs/_build/html` (warnings are errors)."""

import os
import sys

sys.path.insert(0, os.path.abspath('..'))

import cutmix_jax  # noqa: E402  (after the path)

project = 'cutmix_jax'
author = 'the cutmix_jax authors'
copyright = 'the cutmix_jax authors, Apache 2.0'  # pylint: disable=redefined-builtin
release = cutmix_jax.__version__

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]
source_suffix = {'.md': 'markdown'}
exclude_patterns = ['_build']
myst_heading_anchors = 3  # links to a page's section: [text](page.md#section)

autodoc_member_order = 'bysource'
autodoc_typehints = 'none'  # the docstrings say the shapes and types in words
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # Attributes as fields: no second entry beside autodoc's members

html_theme = 'sphinx_book_theme'
html_title = 'cutmix_jax'
