"""What the command lines (`train.py`, `evaluate.py`) share: the config flag, one-line errors."""

import os
import sys

from absl import flags
from ml_collections import config_flags

DEFAULT_CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'configs', 'default.py'
)


def exit_unknown_config_key(argv, error) -> None:
  """Stops with one line naming the `--config.*` overrides, one of which is not a field."""
  keys = ' '.join(arg.split('=')[0] for arg in argv[1:] if arg.startswith('--config.'))
  sys.exit(
      f'error: unknown config key among {keys} ({error}); the keys are the fields of the '
      'config file (see configs/default.py)'
  )


def define_config_flag(help_text: str):
  """`--config` (default configs/default.py); ml_collections applies `--config.key=value` as it
  defines the flag, so an unknown key fails here, before any work."""
  try:
    return config_flags.DEFINE_config_file('config', DEFAULT_CONFIG, help_text, lock_config=True)
  except (AttributeError, KeyError) as error:
    exit_unknown_config_key(sys.argv, error)


def parse_flags(argv):
  """absl's flag parsing, with one line instead of a traceback or usage dump on bad input."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as error:
    sys.exit(f'error: {error}')
  except (AttributeError, KeyError) as error:
    exit_unknown_config_key(argv, error)


def one_line(error: Exception) -> str:
  """The message of `error` folded onto one line (ml_collections spreads file errors over lines)."""
  return ' '.join(str(error).split())
