"""A training workdir as train.py leaves it: its resolved config and its best and last states."""

import dataclasses
from typing import Any, Dict, Mapping

from absl import logging
import ml_collections

from cutmix_jax.config import history
from cutmix_jax.config import workdir_files
from cutmix_jax.errors import UserError
from cutmix_jax.training import checkpointing
from cutmix_jax.training.checkpointing import Checkpointer


class WorkdirError(UserError, RuntimeError):
  """A workdir that cannot be evaluated; the message is one line naming it and what is missing."""


@dataclasses.dataclass(frozen=True)
class Restored:
  """A restored checkpoint: its `step` and its TrainState `state` (on the host, or on the
  devices for the measures: `placement.put_state`)."""

  step: int
  state: Any


def load_config(workdir: str, overrides: Mapping[str, Any]) -> ml_collections.ConfigDict:
  """The config of a run, `WORKDIR/config.json`, with `overrides` (dotted key -> value) on top.

  Raises:
    WorkdirError: if the workdir has no config.json, or an override names no field of it.
  """
  path = workdir_files.config_path(workdir)
  saved = history.read_run_config(workdir)
  if saved is None:
    raise WorkdirError(
        f'{workdir} has no config.json (train.py writes it when a run starts); '
        'is it a training workdir?'
    )
  config = ml_collections.ConfigDict(saved)
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
  directory = workdir_files.checkpoints_dir(workdir)
  if not checkpointing.saved_steps(directory):
    raise WorkdirError(
        f'{workdir} has no checkpoint (nothing in {directory}); train first: '
        f'python train.py --workdir={workdir}'
    )
  return directory


def restore_best_and_last(run, workdir: str) -> Dict[str, Restored]:
  """`{'best': ..., 'last': ...}` of a `run_builder.BuiltRun`: the newest checkpoint that
  restores and the best one.

  The best step is the `best_step` that the newest checkpoint's progress records; a run stopped
  before its first evaluation has none, and then 'best' is the newest checkpoint too, as it is
  when the best one is gone or does not restore (said in one line). Damaged steps are moved aside
  as `train.py` does (`Checkpointer.restore_newest`).

  Raises:
    WorkdirError: if no checkpoint of the workdir restores.
  """
  checkpointer = Checkpointer(checkpoint_directory(workdir), run.config.keep_checkpoints)
  try:
    template = run.state_template()
    restored = checkpointer.restore_newest(template, lambda line: logging.warning('%s', line))
    if restored is None:
      raise WorkdirError(f'{workdir}: no checkpoint restores (each was moved aside, see above)')
    last, last_state, progress = restored
    best = progress.get('best_step')
    best_state = last_state
    if best is not None and best != last:
      try:
        best_state = checkpointer.restore(best, template)[0]
      except Exception as error:  # pylint: disable=broad-except  (missing or damaged)
        logging.warning(
            '%s: the best step %d does not restore (%s); using the last step %d',
            workdir,
            best,
            type(error).__name__,
            last,
        )
        best = None
    best = last if best is None else best
    return {'best': Restored(best, best_state), 'last': Restored(last, last_state)}
  finally:
    checkpointer.close()
