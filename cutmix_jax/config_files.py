"""Config files (`configs/*.py`, each with a `get_config()`), loaded by path as `--config=` does.

The config files are a folder, not an installed package, so they never shadow another project's
`configs` module. One file derives from another by path:
`config_files.load('default.py', relative_to=__file__)`; tests, benchmarks and scripts load them
the same way. `section` builds a config section from its dataclass.
"""

import dataclasses
import os
import runpy

import ml_collections


class NoConfigFunctionError(ValueError):
  """A config file without a `get_config()`."""


def load(path: str, relative_to: str = '') -> ml_collections.ConfigDict:
  """The config that `get_config()` of the file at `path` builds.

  Args:
    path: the config file; a relative path is taken from the folder of `relative_to` if given
      (a file, usually the caller's `__file__`), else from the working directory.
    relative_to: see `path`.
  """
  if relative_to:
    path = os.path.join(os.path.dirname(os.path.abspath(relative_to)), path)
  module = runpy.run_path(path)
  if not callable(module.get('get_config')):
    raise NoConfigFunctionError(f'{path} has no get_config() function')
  return module['get_config']()


def section(defaults) -> ml_collections.ConfigDict:
  """The config section of a dataclass instance (`DataConfig`, `MixConfig`, `OptimizerConfig`):
  one field per field, with its values. The dataclasses hold the defaults; a config file builds
  its sections from them, so a new field needs adding in one place only."""
  return ml_collections.ConfigDict(dataclasses.asdict(defaults))
