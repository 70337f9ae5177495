"""Orbax checkpoints in `WORKDIR/checkpoints`: the last k and the best are kept.

Retention is orbax's `preservation_policy`: the newest `keep_checkpoints` steps, and the step
with the lowest eval top-1 error among those saved with it (steps saved between evaluations
carry no metrics and are kept only while they are among the newest); the metric is written
beside each step, so the best one survives any number of restarts. Each step's folder holds the
SHA-256 of each of its files (`CHECKSUMS`), checked before it restores: a flipped bit is found.
A checkpoint that does not restore is told apart from one that is only *different*: a structure
other than the run's (another model, number of classes or optimizer) is refused with one line
and left alone; only a damaged one (bits changed, truncated, missing, unreadable) is moved aside,
and the newest intact one restores. A save that fails raises `CheckpointSaveError`, which the
command line turns into one line. Paths go through `storage` (a local disk or a bucket).
"""

import hashlib
import json
import os
from typing import Any, Callable, Dict, List, Optional, Tuple

import flax
from flax import traverse_util
import jax
from jax.experimental import multihost_utils
import numpy as np
import orbax.checkpoint as ocp

from cutmix_jax.config import storage
from cutmix_jax.errors import UserError

BEST_METRIC = 'eval_top1_error'  # lower is better


class CheckpointMismatchError(UserError, ValueError):
  """A healthy checkpoint whose structure differs from the run's state; one line, nothing moved."""


class CheckpointSaveError(UserError, OSError):
  """A checkpoint could not be written; one line naming the path and the cause."""


CHECKSUMS = 'checksums.json'  # in each step's folder: the SHA-256 of each of its files


class DamagedCheckpointError(UserError, OSError):
  """A checkpoint's files differ from what was saved (bit rot, a file cut short or lost)."""


def saved_steps(directory: str) -> List[int]:
  """The steps saved in a checkpoint directory, in order, read from its folder names only."""
  folder = storage.path(directory)
  if not folder.is_dir():
    return []
  return sorted(int(entry.name) for entry in folder.iterdir() if entry.name.isdigit())


def _digests(step_dir) -> Dict[str, str]:
  """`relative path -> SHA-256` of every file below `step_dir` but the checksums' own."""
  digests = {}
  for relative, file in storage.files_below(step_dir):
    if relative != CHECKSUMS:
      with file.open('rb') as f:
        digests[relative] = hashlib.file_digest(f, 'sha256').hexdigest()
  return digests


def write_checksums(step_dir) -> None:
  """Writes the digest of every file of a saved step into its folder (`CHECKSUMS`)."""
  text = json.dumps(_digests(storage.path(step_dir)), indent=1, sort_keys=True)
  storage.write_atomic(storage.path(step_dir) / CHECKSUMS, text)


def verify_checksums(step_dir) -> bool:
  """Raises DamagedCheckpointError if a file of the step differs from its digest, or is
  missing; whether the step had checksums to check (one saved before them had none)."""
  text = storage.read_text(storage.path(step_dir) / CHECKSUMS)
  if text is None:
    return False
  saved, found = json.loads(text), _digests(storage.path(step_dir))
  changed = sorted(name for name in saved if found.get(name) != saved[name])
  if changed:
    what = 'is missing' if changed[0] not in found else 'differs from its checksum'
    raise DamagedCheckpointError(
        f'{len(changed)} of its {len(saved)} files changed since it was saved: {changed[0]} {what}'
    )
  return True


def _one_line(error: BaseException) -> str:
  """`Type: message` on one line, its start and its end if long; a message that is only an
  object's repr (some TensorStore errors) gives way to the first text among its arguments."""
  text = str(error)
  if text.startswith('<'):
    text = next((a for a in error.args if isinstance(a, str) and not a.startswith('<')), '')
  text = ' '.join(text.split())
  if len(text) > 240:  # TensorStore puts the cause (the OS error) last
    text = f'{text[:140]} ... {text[-90:]}'
  return f'{type(error).__name__}: {text}'


def _shapes(tree) -> Dict[str, Tuple[int, ...]]:
  """`'path/to/leaf' -> shape` of a state dict or of its saved metadata."""
  tree = getattr(tree, 'tree', tree)  # orbax's TreeMetadata holds the tree
  flat = traverse_util.flatten_dict(tree, sep='/') if isinstance(tree, dict) else {}
  return {path: tuple(getattr(leaf, 'shape', np.shape(leaf))) for path, leaf in flat.items()}


def describe_mismatch(saved: Dict[str, tuple], expected: Dict[str, tuple]) -> str:
  """What differs between a checkpoint's structure and the run's, in words, or '' if nothing."""
  missing = sorted(set(expected) - set(saved))
  extra = sorted(set(saved) - set(expected))
  resized = [p for p in sorted(set(saved) & set(expected)) if saved[p] != expected[p]]
  if not (missing or extra or resized):
    return ''
  parts = []
  if any(p.startswith('params/head/') for p in resized):
    head = next(p for p in resized if p.startswith('params/head/'))
    parts.append(f'number of classes ({head} is {saved[head]} there, {expected[head]} here)')
  elif resized:
    parts.append(f'shapes ({resized[0]} is {saved[resized[0]]} there, {expected[resized[0]]} here)')
  for label, paths in (('only in the checkpoint', extra), ('only in this run', missing)):
    if paths:
      parts.append(f'{len(paths)} arrays {label} (e.g. {paths[0]})')
  parts_of = {'params': 'model', 'batch_stats': 'model', 'opt_state': 'optimizer'}
  touched = {parts_of.get(p.split('/')[0], p.split('/')[0]) for p in missing + extra + resized}
  what = ' and '.join(sorted(touched))
  return f'a different {what}: ' + '; '.join(parts)


class Checkpointer:
  """Saves and restores `(train state, progress)`; keeps the last k and the best.

  The state is saved as its arrays (its `flax.serialization` state dict): global `jax.Array`s with
  their sharding (the mesh) or host arrays (pmap), and restored as the target's leaves are
  (`jax.ShapeDtypeStruct`s with a sharding, or host arrays), whichever wrote it; a restore is
  bitwise exact. `progress` is a small JSON dict (the loop's `Progress`).
  """

  def __init__(self, directory: str, keep: int):
    self.directory = os.path.abspath(directory) if storage.is_local(directory) else directory
    policy = ocp.checkpoint_managers.AnyPreservationPolicy(
        [
            ocp.checkpoint_managers.LatestN(n=keep),
            ocp.checkpoint_managers.BestN(
                get_metric_fn=lambda metrics: metrics[BEST_METRIC],
                reverse=True,  # sorted high to low: the last one, kept, is the lowest error
                n=1,
                keep_checkpoints_without_metrics=False,
            ),
        ]
    )
    # best_fn makes orbax write each step's metrics beside it, so that the best step is still
    # known after a restart (the policy alone keeps them in memory only).
    self._options = ocp.CheckpointManagerOptions(
        preservation_policy=policy,
        best_fn=lambda metrics: metrics[BEST_METRIC],
        best_mode='min',
        create=True,
    )
    self._manager = self._open()

  def _open(self) -> ocp.CheckpointManager:
    """The orbax manager, told the handlers of both items so that it can read their metadata
    before any save or restore."""
    registry = ocp.handlers.DefaultCheckpointHandlerRegistry()
    for item, save, restore in (
        ('state', ocp.args.StandardSave, ocp.args.StandardRestore),
        ('progress', ocp.args.JsonSave, ocp.args.JsonRestore),
    ):
      registry.add(item, save)
      registry.add(item, restore)
    return ocp.CheckpointManager(self.directory, options=self._options, handler_registry=registry)

  def latest_step(self) -> Optional[int]:
    """The newest saved step, or None."""
    return self._manager.latest_step()

  def all_steps(self):
    return sorted(self._manager.all_steps())

  def save(self, step: int, state: Any, progress: dict, metrics: Optional[dict] = None) -> None:
    """Saves `state` and `progress` at `step` (with the eval `metrics`, if it evaluated),
    waits for it; older steps go as the preservation policy says.

    Raises:
      CheckpointSaveError: the step could not be written (the newest good one stays).
    """
    args = ocp.args.Composite(
        state=ocp.args.StandardSave(flax.serialization.to_state_dict(state)),
        progress=ocp.args.JsonSave(progress),
    )
    try:
      self._manager.save(step, args=args, metrics=metrics, force=True)
      self._manager.wait_until_finished()
      if jax.process_index() == 0:
        write_checksums(self._step_dir(step))
      multihost_utils.sync_global_devices(f'checksums of checkpoint {step}')
    except Exception as error:  # pylint: disable=broad-except  (orbax raises many kinds)
      raise CheckpointSaveError(
          f'cannot save the checkpoint of step {step} in {self.directory} ({_one_line(error)}); '
          f'the newest good one is step {self._newest_other(step)}'
      ) from error

  def _newest_other(self, step: int):
    older = [s for s in saved_steps(self.directory) if s != step]
    return older[-1] if older else 'none (nothing was saved yet)'

  def _step_dir(self, step: int):
    return storage.path(self.directory) / str(step)

  def restore(self, step: int, target: Any) -> Tuple[Any, dict]:
    """Restores `(state, progress)` saved at `step`, with `target`'s structure and types,
    once its files match their checksums (`DamagedCheckpointError`)."""
    verify_checksums(self._step_dir(step))
    return self._read(step, target)

  def _read(self, step: int, target: Any) -> Tuple[Any, dict]:
    template = flax.serialization.to_state_dict(target)
    args = ocp.args.Composite(
        state=ocp.args.StandardRestore(template), progress=ocp.args.JsonRestore()
    )
    restored = self._manager.restore(step, args=args)
    return flax.serialization.from_state_dict(target, restored['state']), dict(restored['progress'])

  def check_structure(self, step: int, target: Any) -> None:
    """Raises CheckpointMismatchError if the saved arrays of `step` are not `target`'s.

    An unreadable structure is damage, not a mismatch: that raises whatever orbax raises.
    """
    saved = _shapes(self._manager.item_metadata(step)['state'])
    expected = _shapes(flax.serialization.to_state_dict(target))
    differs = describe_mismatch(saved, expected)
    if differs:
      raise CheckpointMismatchError(
          f'the checkpoint of step {step} in {self.directory} holds {differs}; it is not '
          'damaged and was left as it is: use the config it was trained with (config.json '
          'beside it), or another --workdir'
      )

  def restore_newest(
      self, target: Any, say: Callable[[str], None]
  ) -> Optional[Tuple[int, Any, dict]]:
    """`(step, state, progress)` of the newest step that restores, or None if none does.

    A step's files are checked against their checksums first (`DamagedCheckpointError`). A step
    that fails (a file truncated or deleted: orbax and TensorStore raise many kinds of
    error for that) is reported in one line and moved aside to `corrupt-<step>` in the same
    directory, so that nothing is deleted and the run can save that step again.

    Raises:
      CheckpointMismatchError: for a healthy step of another structure (nothing is moved).
    """
    for step in reversed(self.all_steps()):
      try:
        verify_checksums(self._step_dir(step))
        self.check_structure(step, target)
        return (step, *self._read(step, target))
      except CheckpointMismatchError:
        raise
      except Exception as error:  # pylint: disable=broad-except  (any damage: move it aside)
        say(
            f'checkpoint step {step} in {self.directory} does not restore '
            f'({_one_line(error)}); moved to {self._move_aside(step)}'
        )
    return None

  def _move_aside(self, step: int) -> str:
    """Renames the directory of `step` to `corrupt-<step>` (process 0; the others only wait)."""
    folder = storage.path(self.directory)
    target = folder / f'corrupt-{step}'
    if jax.process_index() == 0:
      suffix = 0
      while target.exists():
        suffix += 1
        target = folder / f'corrupt-{step}-{suffix}'
      self._step_dir(step).rename(target)
    multihost_utils.sync_global_devices(f'checkpoint {step} moved aside')
    self._manager = self._open()  # re-list the steps
    return os.fspath(target)

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
