"""What the command lines (`train.py`, `evaluate.py`) share: the config flag, one-line errors."""

import difflib
import os
import runpy
import sys
from typing import List

from absl import flags
from ml_collections import config_flags

# configs/default.py beside the command (train.py, evaluate.py), which the package does not install.
DEFAULT_CONFIG = os.path.join(
    os.path.dirname(os.path.abspath(sys.argv[0])), 'configs', 'default.py'
)


def one_line(error: Exception) -> str:
  """The message of `error` folded onto one line (ml_collections spreads file errors over lines)."""
  return ' '.join(str(error).split())


def _config_file(argv: List[str]) -> str:
  """The config file that `--config=FILE` (or `--config FILE`) names, else the default."""
  for i, arg in enumerate(argv[1:], start=1):
    if arg.startswith('--config='):
      return arg.split('=', 1)[1]
    if arg == '--config' and i + 1 < len(argv):
      return argv[i + 1]
  return DEFAULT_CONFIG


def _config_keys(path: str) -> List[str]:
  """Every dotted field name of the config that `path` builds."""

  def walk(node, prefix):
    for key, value in node.items():
      if isinstance(value, dict):
        yield from walk(value, f'{prefix}{key}.')
      else:
        yield f'{prefix}{key}'

  return list(walk(runpy.run_path(path)['get_config']().to_dict(), ''))


def exit_unknown_config_key(argv: List[str], error: Exception) -> None:
  """Stops with one line naming the `--config.KEY` override that is no field, and the closest."""
  path = _config_file(argv)
  keys = _config_keys(path)
  for arg in argv[1:]:
    key = arg[len('--config.') :].split('=', 1)[0] if arg.startswith('--config.') else None
    if key is not None and key not in keys:
      close = difflib.get_close_matches(key, keys, n=1)
      hint = f'; did you mean --config.{close[0]}?' if close else ''
      sys.exit(f'error: --config.{key}: {path} has no such field{hint}')
  sys.exit(f'error: {one_line(error)}')


def define_config_flag(help_text: str):
  """`--config` (default configs/default.py); ml_collections applies `--config.key=value` as it
  defines the flag, so a missing file or an unknown key fails here, before any work."""
  path = _config_file(sys.argv)
  if not os.path.isfile(path.split(':', 1)[0]):
    sys.exit(f'error: --config={path}: no such config file')
  try:
    return config_flags.DEFINE_config_file('config', DEFAULT_CONFIG, help_text, lock_config=True)
  except (AttributeError, KeyError) as error:
    exit_unknown_config_key(sys.argv, error)


def parse_flags(argv):
  """absl's flag parsing, with one line instead of a traceback or usage dump on bad input."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as error:
    sys.exit(f'error: {one_line(error)}')
  except (AttributeError, KeyError) as error:
    exit_unknown_config_key(argv, error)


def check_writable_directory(path: str, flag: str) -> None:
  """Stops with one line unless `path` is (or can be made) a directory that takes new files."""
  if os.path.exists(path) and not os.path.isdir(path):
    sys.exit(f'error: {flag}={path} is a file, not a directory')
  probe = os.path.join(path, f'.write-test-{os.getpid()}')
  try:
    os.makedirs(path, exist_ok=True)
    with open(probe, 'w', encoding='utf-8'):
      pass
    os.remove(probe)
  except OSError as error:
    sys.exit(f'error: {flag}={path} is not writable: {error.strerror or one_line(error)}')
