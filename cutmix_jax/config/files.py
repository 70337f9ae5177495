"""Config files (`configs/*.py`, each with a `get_config()`), loaded by path as `--config=` does.

The config files are a folder, not an installed package, so they never shadow another project's
`configs` module. One file derives from another by path:
`files.load('default.py', relative_to=__file__)`; tests, benchmarks and scripts load them
the same way. `section` builds a config section from its dataclass.
"""

import dataclasses
import json
import os
import runpy
from typing import Any, Dict, Mapping

import ml_collections

from cutmix_jax.errors import UserError


class NoConfigFunctionError(UserError, ValueError):
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
  config = module['get_config']()
  if not isinstance(config, ml_collections.ConfigDict):
    raise NoConfigFunctionError(
        f'get_config() of {path} returned {type(config).__name__}, not an '
        'ml_collections.ConfigDict (did it forget to return the config?)'
    )
  return config


def section(defaults) -> ml_collections.ConfigDict:
  """The config section of a dataclass instance (`DataConfig`, `MixConfig`, `OptimizerConfig`):
  one field per field, with its values. The dataclasses hold the defaults; a config file builds
  its sections from them, so a new field needs adding in one place only."""
  as_dict = getattr(defaults, 'as_dict', None)  # MixConfig: a section per method
  return ml_collections.ConfigDict(as_dict() if as_dict else dataclasses.asdict(defaults))


def as_json(config: ml_collections.ConfigDict) -> Dict[str, Any]:
  """The config as `config.json` holds it: plain JSON values (tuples become lists)."""
  return json.loads(json.dumps(config.to_dict(), sort_keys=True, default=str))


def flatten(tree: Mapping[str, Any], prefix: str = '') -> Dict[str, Any]:
  """`{'a': {'b': 1}}` as `{'a.b': 1}`: every field of a nested config by its dotted name."""
  flat = {}
  for key, value in tree.items():
    if isinstance(value, Mapping):
      flat.update(flatten(value, f'{prefix}{key}.'))
    else:
      flat[f'{prefix}{key}'] = value
  return flat
