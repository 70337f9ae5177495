"""A training workdir as train.py leaves it: its resolved config and its best and last states."""

import dataclasses
import json
import os
from typing import Any, Dict, Mapping

from absl import logging
import jax
import ml_collections
import numpy as np

from cutmix_jax import optim
from cutmix_jax import train_step as steps
from cutmix_jax.checkpointing import Checkpointer


class WorkdirError(RuntimeError):
  """A workdir that cannot be evaluated; the message is one line naming it and what is missing."""


@dataclasses.dataclass(frozen=True)
class Restored:
  """A restored checkpoint: its `step` and host TrainState `state`."""

  step: int
  state: Any


def load_config(workdir: str, overrides: Mapping[str, Any]) -> ml_collections.ConfigDict:
  """The config of a run, `WORKDIR/config.json`, with `overrides` (dotted key -> value) on top.

  Raises:
    WorkdirError: if the workdir has no config.json, or an override names no field of it.
  """
  path = os.path.join(workdir, 'config.json')
  if not os.path.isfile(path):
    raise WorkdirError(
        f'{workdir} has no config.json (train.py writes it when a run starts); '
        'is it a training workdir?'
    )
  with open(path, encoding='utf-8') as f:
    config = ml_collections.ConfigDict(json.load(f))
  for key, value in overrides.items():
    *parents, leaf = key.split('.')
    node = config
    try:
      for part in parents:
        node = node[part]
      old = node[leaf]
    except KeyError:
      raise WorkdirError(f'--config.{key}: {path} has no field {key}') from None
    node[leaf] = type(old)(value) if isinstance(old, (list, tuple)) else value
  return config


def checkpoint_directory(workdir: str) -> str:
  """`WORKDIR/checkpoints` if it holds a checkpoint; raises WorkdirError otherwise."""
  directory = os.path.join(workdir, 'checkpoints')
  if not os.path.isdir(directory) or not any(d.isdigit() for d in os.listdir(directory)):
    raise WorkdirError(
        f'{workdir} has no checkpoint (nothing in {directory}); train first: '
        f'python train.py --workdir={workdir}'
    )
  return directory


def _template_state(config, model, dataset):
  """A TrainState of zeros with the run's structure, shapes and dtypes (nothing is computed)."""
  abstract = jax.eval_shape(
      lambda: steps.create_train_state(
          config.seed,
          model,
          dataset.image_shape,
          optim.make_optimizer(config.optimizer, config.batch_size, dataset.steps_per_epoch),
      )
  )
  return jax.tree.map(lambda leaf: np.zeros(leaf.shape, leaf.dtype), abstract)


def restore_best_and_last(config, workdir: str, model, dataset) -> Dict[str, Restored]:
  """`{'best': ..., 'last': ...}`: the latest checkpoint and the one of the best eval error.

  The best step is the `best_step` that the latest checkpoint's progress records; a run stopped
  before its first evaluation has none, and then 'best' is the latest checkpoint too.
  """
  checkpointer = Checkpointer(checkpoint_directory(workdir), config.keep_checkpoints)
  try:
    last = checkpointer.latest_step()
    template = _template_state(config, model, dataset)
    last_state, progress = checkpointer.restore(last, template)
    best = progress.get('best_step')
    if best is not None and best not in checkpointer.all_steps():
      logging.warning('%s: the best step %d has no checkpoint; using the last', workdir, best)
      best = None
    best = last if best is None else best
    best_state = last_state if best == last else checkpointer.restore(best, template)[0]
    return {'best': Restored(best, best_state), 'last': Restored(last, last_state)}
  finally:
    checkpointer.close()
