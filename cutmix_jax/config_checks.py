"""Checks a training config before any work, with one-line errors that list the valid values."""
import jax
import jax.numpy as jnp

from cutmix_jax import data
from cutmix_jax import mixing
from cutmix_jax import models
from cutmix_jax.train_step import FEATURE_METHOD
from cutmix_jax.train_step import TRAIN_METHODS

DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16, 'float16': jnp.float16}


class ConfigError(ValueError):
  """A config value that cannot work; the message is one line meant for the user."""


def _check_choice(key: str, value, valid) -> None:
  if value not in valid:
    raise ConfigError(f'config.{key}={value!r} is not valid; choose one of: {", ".join(valid)}')


def _check_positive(config, *keys) -> None:
  for key in keys:
    value = config
    for part in key.split('.'):
      value = getattr(value, part)
    if not (isinstance(value, (int, float)) and value > 0):
      raise ConfigError(f'config.{key}={value!r} must be a positive number')


def mix_config(config) -> mixing.MixConfig:
  """The MixConfig of `config.mix`; feature-level CutMix uses the CutMix settings."""
  fields = config.mix.to_dict()
  if fields.get('method') == FEATURE_METHOD:
    fields['method'] = 'cutmix'
  return mixing.MixConfig.from_any(fields)


def check_config(config) -> None:
  """Raises ConfigError (one line) for any value that would fail or silently misbehave later."""
  _check_choice('model', config.model, tuple(models.MODELS))
  _check_choice('mix.method', config.mix.method, TRAIN_METHODS)
  _check_choice('dtype', config.dtype, tuple(DTYPES))
  try:
    data.check_source_name(config.dataset)
    mix_config(config)
  except ValueError as error:
    raise ConfigError(f'config: {error}') from None
  _check_positive(config, 'batch_size', 'eval_batch_size', 'num_epochs', 'log_every_steps',
                  'keep_checkpoints', 'optimizer.learning_rate')
  opt = config.optimizer
  if any(epoch < opt.warmup_epochs for epoch in opt.decay_epochs):
    raise ConfigError(f'config.optimizer.decay_epochs={tuple(opt.decay_epochs)} must all come '
                      f'after the warm-up (warmup_epochs={opt.warmup_epochs})')
  if not 0.0 <= config.label_smoothing < 1.0:
    raise ConfigError(f'config.label_smoothing={config.label_smoothing} must be in [0, 1)')
  for key in ('batch_size', 'eval_batch_size'):
    if getattr(config, key) % jax.device_count():
      raise ConfigError(f'config.{key}={getattr(config, key)} must be divisible by the number of '
                        f'devices ({jax.device_count()})')
