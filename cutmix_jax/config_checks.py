"""Checks a run's config once, before any work, and turns its sections into their dataclasses.

The rules of each section belong to the dataclass built from it: `data.DataConfig`
(config.data), `mixing.MixConfig` (config.mix), `optim.OptimizerConfig` (config.optimizer); the
device layout checks the batch sizes, `mixing.check_label_smoothing` and
`checkpointing.check_keep` their fields. This module adds the choices and counts of the loop
itself, turns every failure into one line, and hands the typed sections on (`Sections`), so
nothing downstream converts or checks a section again.
"""

import dataclasses

from absl import logging

from cutmix_jax import checkpointing
from cutmix_jax import data
from cutmix_jax import mixing
from cutmix_jax import models
from cutmix_jax import optim
from cutmix_jax.data import layout


class ConfigError(ValueError):
  """A config value that cannot work; the message is one line meant for the user."""


@dataclasses.dataclass(frozen=True)
class Sections:
  """The checked sections of a config, as the modules that use them take them."""

  data: data.DataConfig
  mix: mixing.MixConfig
  optimizer: optim.OptimizerConfig


def _check_choice(key: str, value, valid) -> None:
  if value not in valid:
    raise ConfigError(f'config.{key}={value!r} is not valid; choose one of: {", ".join(valid)}')


def _check_positive(config, *keys) -> None:
  for key in keys:
    value = getattr(config, key)
    if not (isinstance(value, (int, float)) and value > 0):
      raise ConfigError(f'config.{key}={value!r} must be a positive number')


def _section(key: str, build):
  try:
    return build()
  except (TypeError, ValueError) as error:
    raise ConfigError(f'config.{key}: {error}') from None


def check_config(config) -> Sections:
  """The typed sections of `config`; raises ConfigError (one line) for any value that would fail
  or silently misbehave later."""
  _check_choice('model', config.model, tuple(models.MODELS))
  _check_choice('dtype', config.dtype, tuple(models.DTYPES))
  _check_positive(
      config, 'batch_size', 'eval_batch_size', 'num_epochs', 'log_every_steps', 'eval_every_epochs'
  )
  sections = Sections(
      data=_section('data', lambda: data.DataConfig(**config.data)),
      mix=_section('mix', lambda: mixing.MixConfig.from_any(config.mix)),
      optimizer=_section('optimizer', lambda: optim.OptimizerConfig(**config.optimizer)),
  )
  for key, check in (
      ('batch_size', lambda: layout.Layout.from_jax(config.batch_size, config.eval_batch_size)),
      ('label_smoothing', lambda: mixing.check_label_smoothing(config.label_smoothing)),
      ('keep_checkpoints', lambda: checkpointing.check_keep(config.keep_checkpoints)),
  ):
    _section(key, check)
  late = [e for e in sections.optimizer.decay_epochs if e >= config.num_epochs]
  if late and config.num_train_steps <= 0:
    logging.warning(
        'config.optimizer.decay_epochs=%s: %s at or past the end of training (num_epochs=%s); '
        'the learning rate never decays there',
        sections.optimizer.decay_epochs,
        late,
        config.num_epochs,
    )
  return sections
