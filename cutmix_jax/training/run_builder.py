"""A run built from its config in one place: data, model, optimizer, state and compiled steps.

`build_run(config)` checks the config once (`run_config.check_config`), loads its dataset and
builds the rest; the trainer, the evaluation, the benchmarks and the tests all take their run
from here.
"""

import dataclasses
import functools
from typing import Any, Callable, Union

import flax.linen as nn
import jax
import ml_collections
import numpy as np
import optax

from cutmix_jax import data
from cutmix_jax import models
from cutmix_jax.config import checks
from cutmix_jax.data import layout as layout_lib
from cutmix_jax.training import devices
from cutmix_jax.training import eval_driver
from cutmix_jax.training import optim
from cutmix_jax.training import train_state
from cutmix_jax.training import train_step as steps
from cutmix_jax.training.run_config import RunConfig
from cutmix_jax.training.run_config import check_config


def load_run_dataset(config: RunConfig) -> data.Dataset:
  """The dataset of `config.data`, with the batch sizes and seed of the run.

  Raises:
    ConfigError: one line, for a bad path, file or size (the user's to fix).
  """
  try:
    return data.load_dataset(
        config.data,
        batch_size=config.batch_size,
        eval_batch_size=config.eval_batch_size,
        seed=config.seed,
    )
  except (ValueError, OSError) as error:
    raise checks.ConfigError(f'config.data.source={config.data.source!r}: {error}') from None


def build_model(config: RunConfig, num_classes: int) -> nn.Module:
  """The model of `config.model` with its `model_settings`, computing in `config.dtype`.

  Raises:
    ConfigError: for a mixing method that weighs the labels by a class token's attention
      (TransMix) with a model that has none.
  """
  model = models.get_model(
      config.model,
      num_classes,
      dtype=models.DTYPES[config.dtype],
      settings=config.model_settings,
      batch_norm_axis=devices.AXIS if config.batch_norm == 'global' else None,
  )
  if config.mix.relabel is not None and not isinstance(model, models.VisionTransformer):
    raise checks.ConfigError(
        f"config.mix.method={config.mix.method!r} weighs the labels by the class token's "
        f'attention of a ViT; config.model={config.model!r} has none (choose one of: '
        + ', '.join(name for name in models.MODELS if 'vit' in name or 'deit' in name)
        + ')'
    )
  return model


def compiled_train_step(
    config: RunConfig,
    model: nn.Module,
    num_classes: int,
    steps_per_epoch: int,
    preprocess: Callable,
    schedule: optax.Schedule,
    placement,
) -> Callable:
  """The train step of a run compiled by its `placement` (`devices`), the state donated."""
  settings = steps.StepSettings(
      seed=config.seed,
      num_classes=num_classes,
      label_smoothing=config.label_smoothing,
      mix=config.mix,
      num_stages=getattr(model, 'num_stages', 0),
      steps_per_epoch=steps_per_epoch,
      loss=config.loss,
      bce_target_threshold=config.bce_target_threshold,
  )
  step = functools.partial(
      steps.train_step, settings=settings, preprocess=preprocess, learning_rate_fn=schedule
  )
  return placement.compile(step, (devices.STATE, devices.BATCH), donate=(0,))


@dataclasses.dataclass(frozen=True)
class BuiltRun:
  """Everything a training or an evaluation of one config needs, built.

  Attributes:
    config: the checked, typed config.
    dataset: the loaded dataset.
    model: the Flax model.
    optimizer: the optax transformation (SGD with its schedule).
    total_steps: steps of the whole run.
    placement: how the steps span the devices (`devices.MeshPlacement` or `PmapPlacement`).
    train_step: the compiled train step `(state, batch) -> (state, metrics)`, for states and
      batches put onto the devices by `placement`.
    evaluator: the loop over the eval split that every measure runs through.
  """

  config: RunConfig
  dataset: data.Dataset
  model: nn.Module
  optimizer: optax.GradientTransformation
  total_steps: int
  placement: Any
  train_step: Callable
  evaluator: eval_driver.Evaluator

  @property
  def steps_per_epoch(self) -> int:
    return self.dataset.steps_per_epoch

  def initial_state(self) -> train_state.TrainState:
    """The freshly initialised state (seeded by `config.seed`)."""
    return train_state.create_train_state(
        self.config.seed, self.model, self.dataset.image_shape, self.optimizer
    )

  def state_template(self) -> train_state.TrainState:
    """A state of zeros with the run's structure, shapes and dtypes (nothing is computed), to
    restore a checkpoint into."""
    abstract = jax.eval_shape(self.initial_state)
    return jax.tree.map(lambda leaf: np.zeros(leaf.shape, leaf.dtype), abstract)


def _num_eval_batches(config: RunConfig, num_eval: int) -> int:
  """The batch count of one pass over the eval split (every process runs the same)."""
  layout = layout_lib.Layout.from_jax(config.batch_size, config.eval_batch_size)
  return layout_lib.eval_shard(layout, num_eval)[2]


def build_run(config: Union[RunConfig, ml_collections.ConfigDict]) -> BuiltRun:
  """Checks `config` (a ConfigDict; a RunConfig is checked already), loads its data and builds
  its model, optimizer and steps.

  Raises:
    ConfigError: one line, for a config value or data that cannot work.
  """
  config = check_config(config)
  dataset = load_run_dataset(config)
  model = build_model(config, dataset.num_classes)
  spe = dataset.steps_per_epoch
  total = config.num_train_steps if config.num_train_steps > 0 else config.num_epochs * spe
  schedule = checks.build_section(
      'optimizer',
      lambda: optim.learning_rate_schedule(config.optimizer, config.batch_size, spe, total),
  )
  placement = devices.placement(config.parallelism)
  return BuiltRun(
      config=config,
      dataset=dataset,
      model=model,
      optimizer=optim.make_optimizer(config.optimizer, schedule),
      total_steps=total,
      placement=placement,
      train_step=compiled_train_step(
          config, model, dataset.num_classes, spe, dataset.train_preprocess, schedule, placement
      ),
      evaluator=eval_driver.Evaluator(
          dataset, placement, config.progress_bar, _num_eval_batches(config, dataset.num_eval)
      ),
  )
