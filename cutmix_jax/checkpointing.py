"""Orbax checkpoints in `WORKDIR/checkpoints`: the last k and the best are kept."""

import os
from typing import Any, Callable, Optional, Tuple

import flax
import jax
from jax.experimental import multihost_utils
import orbax.checkpoint as ocp


def check_keep(keep) -> None:
  """Raises ValueError unless `keep` (checkpoints kept besides the best) is an integer >= 1."""
  if not (isinstance(keep, int) and keep >= 1):
    raise ValueError(f'keep_checkpoints must be an integer >= 1; got {keep!r}')


class Checkpointer:
  """Saves and restores `(train state, progress)`; prunes all but the last k and the best.

  The state is saved as host arrays (its `flax.serialization` state dict), so a restore is
  bitwise exact; `progress` is a small JSON dict (epoch, best error and its step, ...).
  """

  def __init__(self, directory: str, keep: int):
    check_keep(keep)
    self.directory = os.path.abspath(directory)
    self._keep = keep
    self._options = ocp.CheckpointManagerOptions(max_to_keep=None, create=True)
    self._manager = ocp.CheckpointManager(self.directory, options=self._options)

  def latest_step(self) -> Optional[int]:
    """The newest saved step, or None."""
    return self._manager.latest_step()

  def all_steps(self):
    return sorted(self._manager.all_steps())

  def save(self, step: int, state: Any, progress: dict) -> None:
    """Saves host `state` and `progress` at `step`, waits for it, then prunes old steps."""
    args = ocp.args.Composite(
        state=ocp.args.StandardSave(flax.serialization.to_state_dict(state)),
        progress=ocp.args.JsonSave(progress),
    )
    self._manager.save(step, args=args, force=True)
    self._manager.wait_until_finished()
    saved = self.all_steps()
    keep = set(saved[-self._keep :]) | {progress.get('best_step')}
    for old in saved:
      if old not in keep:
        self._manager.delete(old)

  def restore(self, step: int, target: Any) -> Tuple[Any, dict]:
    """Restores `(state, progress)` saved at `step`, with `target`'s structure and types."""
    template = flax.serialization.to_state_dict(target)
    args = ocp.args.Composite(
        state=ocp.args.StandardRestore(template), progress=ocp.args.JsonRestore()
    )
    restored = self._manager.restore(step, args=args)
    return flax.serialization.from_state_dict(target, restored['state']), dict(restored['progress'])

  def restore_newest(
      self, target: Any, say: Callable[[str], None]
  ) -> Optional[Tuple[int, Any, dict]]:
    """`(step, state, progress)` of the newest step that restores, or None if none does.

    A step that fails (a file truncated or deleted: orbax and TensorStore raise many kinds of
    error for that) is reported in one line and moved aside to `corrupt-<step>` in the same
    directory, so that nothing is deleted and the run can save that step again.
    """
    for step in reversed(self.all_steps()):
      try:
        return (step, *self.restore(step, target))
      except Exception as error:  # pylint: disable=broad-except  (any damage: move it aside)
        reason = ' '.join(str(error).split())[:200]
        say(
            f'checkpoint step {step} in {self.directory} does not restore '
            f'({type(error).__name__}: {reason}); moved to {self._move_aside(step)}'
        )
    return None

  def _move_aside(self, step: int) -> str:
    """Renames the directory of `step` to `corrupt-<step>` (process 0; the others only wait)."""
    target = os.path.join(self.directory, f'corrupt-{step}')
    if jax.process_index() == 0:
      suffix = 0
      while os.path.exists(target):
        suffix += 1
        target = os.path.join(self.directory, f'corrupt-{step}-{suffix}')
      os.rename(os.path.join(self.directory, str(step)), target)
    multihost_utils.sync_global_devices(f'checkpoint {step} moved aside')
    self._manager = ocp.CheckpointManager(self.directory, options=self._options)  # re-list steps
    return target

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
