"""The one-line config error and the checks of single fields that every section's check uses.

A section's own rules live in the dataclass built from it (`data.DataConfig`,
`ops.mix_config.MixConfig`, `training.optim.OptimizerConfig`); `training.run_config` builds the
whole typed config from them. What is here imports nothing of the package above it.
"""

from typing import Any, Callable, Iterable, TypeVar

from cutmix_jax.errors import UserError

T = TypeVar('T')


class ConfigError(UserError, ValueError):
  """A config value that cannot work; the message is one line meant for the user."""


def check_choice(key: str, value: Any, valid: Iterable[str]) -> None:
  """Raises ConfigError unless `value` is one of `valid` (the line lists them)."""
  valid = tuple(valid)
  if value not in valid:
    raise ConfigError(f'config.{key}={value!r} is not valid; choose one of: {", ".join(valid)}')


def check_positive(key: str, value: Any) -> None:
  """Raises ConfigError unless `value` is a number > 0."""
  if isinstance(value, bool) or not (isinstance(value, (int, float)) and value > 0):
    raise ConfigError(f'config.{key}={value!r} must be a positive number')


def check_count(key: str, value: Any, low: int) -> None:
  """Raises ConfigError unless `value` is an integer >= `low`."""
  if isinstance(value, bool) or not (isinstance(value, int) and value >= low):
    raise ConfigError(f'config.{key} must be an integer >= {low}; got {value!r}')


def build_section(key: str, build: Callable[[], T]) -> T:
  """`build()`, with its TypeError or ValueError turned into one ConfigError line on `key`."""
  try:
    return build()
  except (TypeError, ValueError) as error:
    raise ConfigError(f'config.{key}: {error}') from None
