"""What the command lines (`train.py`, `evaluate.py`) share: the config flag, one-line errors.

Importing this module does nothing: each command names its default config file and defines its
flags when it starts.
"""

import difflib
import logging as std_logging
import os
import sys
import threading
import traceback
from typing import Callable, List

from absl import flags
from ml_collections import config_flags

from cutmix_jax import recipes
from cutmix_jax.config import files
from cutmix_jax.config import storage
from cutmix_jax.config import workdir_files


def one_line(error: Exception) -> str:
  """The message of `error` folded onto one line (ml_collections spreads file errors over lines)."""
  return ' '.join(str(error).split())


def stop(message: str, code: int = 1) -> None:
  """Ends the process with one `error:` line, at once (both commands end every user error so):
  orbax may still hold threads of a failed save that would keep a normal exit waiting forever."""
  sys.stdout.flush()
  sys.stderr.write(f'error: {message}\n')
  sys.stderr.flush()
  os._exit(code)  # pylint: disable=protected-access


def refuse_arguments(argv: List[str]) -> None:
  """Stops with one line if the command got positional arguments (it takes flags only)."""
  if len(argv) > 1:
    stop(
        f'unexpected argument {argv[1]!r}: {os.path.basename(argv[0])} takes flags only '
        '(--config=..., --workdir=..., --config.KEY=VALUE; --help lists them)',
        2,
    )


def resolve_recipe(argv: List[str]) -> None:
  """Replaces, in place, a `--config=NAME` (or `--config NAME`) that names a recipe of the
  package (`cutmix_jax.recipes`) rather than a file by that recipe's file."""
  for i, arg in enumerate(argv[1:], start=1):
    if arg.startswith('--config='):
      index, prefix, value = i, '--config=', arg.split('=', 1)[1]
    elif arg == '--config' and i + 1 < len(argv):
      index, prefix, value = i + 1, '', argv[i + 1]
    else:
      continue
    name, colon, rest = value.partition(':')
    if not os.path.exists(name) and name in recipes.NAMES:
      argv[index] = prefix + recipes.path(name) + colon + rest
    return


def _config_file(argv: List[str], default: str) -> str:
  """The config file that `--config=FILE` (or `--config FILE`) names, else `default`."""
  for i, arg in enumerate(argv[1:], start=1):
    if arg.startswith('--config='):
      return arg.split('=', 1)[1]
    if arg == '--config' and i + 1 < len(argv):
      return argv[i + 1]
  return default


def _load_config_file(path: str):
  """The config that `path` builds; a file that does not build one stops with one line."""
  try:
    return files.load(path.split(':', 1)[0])
  except SyntaxError as error:
    sys.exit(f'error: --config={path}: syntax error at line {error.lineno}: {error.msg}')
  except files.NoConfigFunctionError as error:
    sys.exit(f'error: --config={path}: {error}')
  except Exception as error:  # pylint: disable=broad-except  (any error of the user's file)
    sys.exit(f'error: --config={path}: get_config() failed: {type(error).__name__}: {error}')


def _config_keys(config) -> List[str]:
  """Every dotted field name of a config."""
  return list(files.flatten(config.to_dict()))


def closest_key(key: str, keys: List[str]) -> str:
  """The field a mistyped `key` most likely means: one with the same last name elsewhere (a
  field under the wrong section), else the closest spelling; '' if none is close."""
  if key in workdir_files.RENAMED:
    return workdir_files.RENAMED[key]
  leaf = key.rsplit('.', 1)[-1]
  same_leaf = [k for k in keys if k.rsplit('.', 1)[-1] == leaf]
  if same_leaf:
    return same_leaf[0]
  leaves = {k.rsplit('.', 1)[-1]: k for k in keys}
  close_leaf = difflib.get_close_matches(leaf, list(leaves), n=1, cutoff=0.8)
  if close_leaf:
    return leaves[close_leaf[0]]
  close = difflib.get_close_matches(key, keys, n=1)
  return close[0] if close else ''


def exit_unknown_config_key(
    argv: List[str], error: Exception, default: str, source: str = ''
) -> None:
  """Stops with one line naming the `--config.KEY` override that is no field, and the closest.

  `default` is the command's default config file; `source` names where the fields come from
  (default: the --config file)."""
  path = _config_file(argv, default)
  keys = _config_keys(_load_config_file(path))
  for arg in argv[1:]:
    key = arg[len('--config.') :].split('=', 1)[0] if arg.startswith('--config.') else None
    if key is not None and key not in keys:
      close = closest_key(key, keys)
      hint = f'; did you mean --config.{close}?' if close else ''
      sys.exit(f'error: --config.{key}: {source or path} has no such field{hint}')
  sys.exit(f'error: {one_line(error)}')


def exit_repeated_override(argv: List[str]) -> None:
  """Stops with one line if a `--config.KEY` is given twice (absl would merge or keep the
  last one, silently)."""
  seen = set()
  for arg in argv[1:]:
    if arg.startswith('--config.'):
      key = arg.split('=', 1)[0]
      if key in seen:
        sys.exit(f'error: {key} is given twice; give each field once')
      seen.add(key)


def define_config_flag(help_text: str, default: str, fields_of: str = ''):
  """`--config` (default: the file `default`); ml_collections applies `--config.key=value` as it
  defines the flag, so a missing or broken file or an unknown key fails here, before any work.

  `fields_of` names, in that error, what the overrides apply to when no `--config` is given
  (evaluate.py: the run's config.json)."""
  resolve_recipe(sys.argv)
  path = _config_file(sys.argv, default)
  if not os.path.isfile(path.split(':', 1)[0]):
    sys.exit(
        f'error: --config={path}: no such config file, nor a recipe (recipes: '
        f'{", ".join(recipes.NAMES)})'
    )
  _load_config_file(path)
  exit_repeated_override(sys.argv)
  try:
    return config_flags.DEFINE_config_file('config', default, help_text, lock_config=True)
  except (AttributeError, KeyError) as error:
    given = any(arg == '--config' or arg.startswith('--config=') for arg in sys.argv[1:])
    exit_unknown_config_key(sys.argv, error, default, source='' if given else fields_of)


def flag_parser(default: str) -> Callable[[List[str]], List[str]]:
  """absl's flag parsing (for `app.run(main, flags_parser=...)`), with one line instead of a
  traceback or usage dump on bad input; `default` is the command's default config file."""

  def parse(argv: List[str]) -> List[str]:
    try:
      return flags.FLAGS(argv)
    except flags.Error as error:
      sys.exit(f'error: {one_line(error)}')
    except (AttributeError, KeyError) as error:
      exit_unknown_config_key(argv, error, default)

  return parse


_ORBAX = f'{os.sep}orbax{os.sep}'


class _NoThreadTracebacks(std_logging.Filter):
  """Drops the log records with a traceback that orbax writes (from its worker threads, or
  while waiting for them): the error itself reaches the main thread and its one line."""

  def filter(self, record) -> bool:
    return not (record.exc_info and _ORBAX in record.pathname)


def _thread_error(args) -> None:
  """An error in one of orbax's worker threads passes quietly (the main thread reports it in
  one line); any other thread's is printed as Python does."""
  if not any(_ORBAX in frame.filename for frame in traceback.extract_tb(args.exc_traceback)):
    threading.__excepthook__(args)


def _unraisable(report) -> None:
  """Late callbacks of TensorStore into the event loop of a failed restore, closed by then."""
  if not (report.exc_type is RuntimeError and 'Event loop is closed' in str(report.exc_value)):
    sys.__unraisablehook__(report)


def quiet_background_errors() -> None:
  """No tracebacks from orbax's worker threads (its saves and restores): the main thread reports
  what failed in one line, and a second report from the thread that raised it, or from an
  event loop closed under it, would bury that line."""
  threading.excepthook = _thread_error
  sys.unraisablehook = _unraisable
  std_logging.getLogger('absl').addFilter(_NoThreadTracebacks())
  for name in ('asyncio', 'concurrent.futures'):
    std_logging.getLogger(name).setLevel(std_logging.CRITICAL)


def check_writable_directory(path: str, flag: str) -> None:
  """Stops with one line unless `path` is (or can be made) a directory that takes new files;
  a directory made for the probe is removed again (the run makes it when it writes)."""
  folder = storage.path(path)
  try:
    if folder.exists() and not folder.is_dir():
      sys.exit(f'error: {flag}={path} is a file, not a directory')
    probe = folder / f'.write-test-{os.getpid()}'
    made = not folder.exists()
    storage.make_dirs(folder)
    probe.write_text('')
    probe.unlink()
    if made and storage.is_local(path):
      folder.rmdir()
  except OSError as error:
    sys.exit(f'error: {flag}={path} is not writable: {error.strerror or one_line(error)}')
