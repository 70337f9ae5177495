"""Checks a training config once, before any work, with one-line errors that list valid values.

The rules of each section belong to what is built from it, and are called from here so that a
bad value stops the command before data is loaded: `data.DataConfig` (config.data),
`mixing.MixConfig` (config.mix), `optim.check_optimizer` (config.optimizer), the device layout
of the batch sizes, `mixing.check_label_smoothing` and `checkpointing.check_keep`. This module
adds the choices and counts of the loop itself and turns every failure into one line.
"""

import jax.numpy as jnp

from cutmix_jax import checkpointing
from cutmix_jax import data
from cutmix_jax import mixing
from cutmix_jax import models
from cutmix_jax import optim
from cutmix_jax.data import layout

DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16, 'float16': jnp.float16}


class ConfigError(ValueError):
  """A config value that cannot work; the message is one line meant for the user."""


def _check_choice(key: str, value, valid) -> None:
  if value not in valid:
    raise ConfigError(f'config.{key}={value!r} is not valid; choose one of: {", ".join(valid)}')


def _check_positive(config, *keys) -> None:
  for key in keys:
    value = getattr(config, key)
    if not (isinstance(value, (int, float)) and value > 0):
      raise ConfigError(f'config.{key}={value!r} must be a positive number')


def check_config(config) -> None:
  """Raises ConfigError (one line) for any value that would fail or silently misbehave later."""
  _check_choice('model', config.model, tuple(models.MODELS))
  _check_choice('dtype', config.dtype, tuple(DTYPES))
  _check_positive(
      config, 'batch_size', 'eval_batch_size', 'num_epochs', 'log_every_steps', 'eval_every_epochs'
  )
  sections = (
      ('data', lambda: data.DataConfig(**config.data)),
      ('mix', lambda: mixing.MixConfig.from_any(config.mix)),
      ('optimizer', lambda: optim.check_optimizer(config.optimizer)),
      ('batch_size', lambda: layout.Layout.from_jax(config.batch_size, config.eval_batch_size)),
      ('label_smoothing', lambda: mixing.check_label_smoothing(config.label_smoothing)),
      ('keep_checkpoints', lambda: checkpointing.check_keep(config.keep_checkpoints)),
  )
  for key, check in sections:
    try:
      check()
    except (TypeError, ValueError) as error:
      raise ConfigError(f'config.{key}: {error}') from None
