"""A run's whole config, typed: `RunConfig`, built and checked once by `check_config`.

A config file (`configs/*.py`) gives a ConfigDict; `check_config` turns it into a `RunConfig`
whose sections are their own dataclasses (`data.DataConfig`, `ops.mix_config.MixConfig`,
`optim.OptimizerConfig`, each with its rules), and checks the fields of the run itself. Every
failure is one `ConfigError` line. Everything downstream takes the `RunConfig` and checks
nothing again.
"""

import dataclasses
from typing import Any, Dict, Mapping, Tuple, Union

from absl import logging
import ml_collections

from cutmix_jax import data
from cutmix_jax import models
from cutmix_jax.config import checks
from cutmix_jax.data import layout
from cutmix_jax.ops import labels as labels_lib
from cutmix_jax.ops import mix_config
from cutmix_jax.training import devices
from cutmix_jax.training import losses
from cutmix_jax.training import optim


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """The fields of a config file (configs/default.py says what each one does).

  Attributes:
    data: what the run reads.
    mix: how batches are mixed.
    optimizer: SGD and its schedule.
    model: a name of `models.MODELS`.
    model_settings: the model's own settings (`models.settings_of(model)`), e.g. its `widths`;
      empty: the named model as it is.
    dtype: the compute dtype, a name of `models.DTYPES`.
    label_smoothing: spread over all classes before mixing, in [0, 1).
    loss: the train loss, a name of `losses.LOSSES`.
    bce_target_threshold: for 'binary_cross_entropy': targets above it count as 1, the rest as
      0 (DeiT III: 0.0); `losses.SOFT_TARGETS` (-1): the soft targets as they are.
    batch_size: the global train batch (all devices and hosts).
    eval_batch_size: the global eval batch.
    num_epochs: training length in epochs.
    num_train_steps: if > 0, the training length in steps instead.
    seed: data order, initialisation and every step key derive from it.
    log_every_steps: metrics are read back from the devices this often.
    eval_every_epochs: evaluation (and a checkpoint) every this many epochs, and at the end.
    checkpoint_every_steps: extra checkpoints every this many steps; 0: none.
    keep_checkpoints: the last this many checkpoints are kept (and the best one).
    profile_steps: `(START, STOP)`: a `jax.profiler` trace of steps START..STOP-1 under
      `WORKDIR/profile`; (): none.
    progress_bar: a progress bar per epoch and per pass over the eval split.
    parallelism: 'mesh' (`jax.jit` over a device mesh) or 'pmap'; the same run either way
      (`cutmix_jax.training.devices`).
    batch_norm: 'global': training BatchNorm normalizes by the statistics of the whole batch,
      whatever the device count; 'device': by each device's share's (`devices.BATCH_NORMS`).
  """

  data: data.DataConfig
  mix: mix_config.MixConfig
  optimizer: optim.OptimizerConfig
  model: str
  dtype: str
  label_smoothing: float
  batch_size: int
  eval_batch_size: int
  num_epochs: int
  num_train_steps: int
  seed: int
  log_every_steps: int
  eval_every_epochs: int
  checkpoint_every_steps: int
  keep_checkpoints: int
  progress_bar: bool
  model_settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  profile_steps: Tuple[int, ...] = ()
  parallelism: str = 'mesh'
  batch_norm: str = 'device'  # what runs written before the field trained with
  loss: str = 'softmax_cross_entropy'
  bce_target_threshold: float = losses.SOFT_TARGETS


_SECTIONS = {
    'data': lambda fields: data.DataConfig(**fields),
    'mix': mix_config.MixConfig.from_any,
    'optimizer': lambda fields: optim.OptimizerConfig(**fields),
}
FIELDS = tuple(field.name for field in dataclasses.fields(RunConfig))
# Older configs (a run's config.json) lack them.
_OPTIONAL = (
    'model_settings',
    'profile_steps',
    'parallelism',
    'batch_norm',
    'loss',
    'bce_target_threshold',
)


def _as_dict(config: Union[ml_collections.ConfigDict, Mapping[str, Any]]) -> Dict[str, Any]:
  return config.to_dict() if isinstance(config, ml_collections.ConfigDict) else dict(config)


def _check_fields(fields: Mapping[str, Any]) -> None:
  unknown = sorted(set(fields) - set(FIELDS))
  if unknown:
    raise checks.ConfigError(
        f'config.{unknown[0]} is no field of a run config; its fields: {", ".join(FIELDS)}'
    )
  missing = [name for name in FIELDS if name not in fields and name not in _OPTIONAL]
  if missing:
    raise checks.ConfigError(f'the config has no field {missing[0]!r} (a run config needs it)')


def _check_run_fields(config: RunConfig) -> None:
  """The fields of the run itself (the sections checked themselves as they were built)."""
  checks.check_choice('model', config.model, models.MODELS)
  checks.check_choice('dtype', config.dtype, models.DTYPES)
  checks.check_choice('parallelism', config.parallelism, devices.PARALLELISMS)
  checks.check_choice('batch_norm', config.batch_norm, devices.BATCH_NORMS)
  if config.dtype == 'float16':  # no loss scaling in the train step: gradients would underflow
    raise checks.ConfigError(
        "dtype='float16' trains without loss scaling here, so small gradients underflow to "
        'zero without a sign; use --config.dtype=bfloat16 (the accelerator default, float32 range) '
        'or float32'
    )
  for key in ('batch_size', 'eval_batch_size', 'num_epochs', 'log_every_steps'):
    checks.check_positive(key, getattr(config, key))
  checks.check_positive('eval_every_epochs', config.eval_every_epochs)
  checks.check_count('keep_checkpoints', config.keep_checkpoints, 1)
  seed = config.seed  # without x64, jax.random.key keeps 32 bits: key(2**32) is key(0)
  if isinstance(seed, bool) or not (isinstance(seed, int) and 0 <= seed < 2**32):
    raise checks.ConfigError(f'config.seed must be an integer in [0, 2**32); got {seed!r}')
  checks.check_count('checkpoint_every_steps', config.checkpoint_every_steps, 0)
  checks.build_section(
      'model_settings', lambda: models.check_settings(config.model, config.model_settings)
  )
  steps = tuple(config.profile_steps)
  if steps and not (
      len(steps) == 2 and all(isinstance(s, int) for s in steps) and 0 <= steps[0] < steps[1]
  ):
    raise checks.ConfigError(
        f'profile_steps must be START,STOP with 0 <= START < STOP (steps START..STOP-1 are '
        f'traced), or empty; got {config.profile_steps!r}'
    )
  checks.build_section(
      'batch_size', lambda: layout.Layout.from_jax(config.batch_size, config.eval_batch_size)
  )
  checks.build_section(
      'label_smoothing', lambda: labels_lib.check_label_smoothing(config.label_smoothing)
  )
  checks.build_section('loss', lambda: losses.check_loss(config.loss, config.bce_target_threshold))
  if config.loss == 'binary_cross_entropy' and 0 <= config.bce_target_threshold < (
      config.label_smoothing
  ):
    raise checks.ConfigError(
        f'bce_target_threshold={config.bce_target_threshold} is below label_smoothing='
        f'{config.label_smoothing}: smoothing can lift every class over the threshold, so every '
        'target would be 1; DeiT III binarizes without smoothing (--config.label_smoothing=0)'
    )


def _warn_late_decay(config: RunConfig) -> None:
  late = [e for e in config.optimizer.decay_epochs if e >= config.num_epochs]
  if late and config.num_train_steps <= 0:
    logging.warning(
        'config.optimizer.decay_epochs=%s: %s at or past the end of training (num_epochs=%s); '
        'the learning rate never decays there',
        config.optimizer.decay_epochs,
        late,
        config.num_epochs,
    )


ConfigLike = Union[RunConfig, ml_collections.ConfigDict, Mapping[str, Any]]


def check_config(config: ConfigLike) -> RunConfig:
  """The typed, checked `RunConfig` of a config file's ConfigDict (a RunConfig is returned as it
  is: it was checked when it was built).

  Raises:
    ConfigError: one line, for any value that would fail or silently misbehave later.
  """
  if isinstance(config, RunConfig):
    return config
  fields = _as_dict(config)
  _check_fields(fields)
  for key, build in _SECTIONS.items():
    fields[key] = checks.build_section(key, lambda: build(fields[key]))
  fields['model_settings'] = dict(fields.get('model_settings') or {})
  fields['profile_steps'] = tuple(fields.get('profile_steps') or ())
  run_config = RunConfig(**fields)
  _check_run_fields(run_config)
  _warn_late_decay(run_config)
  return run_config
