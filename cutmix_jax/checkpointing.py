"""Orbax checkpoints in `WORKDIR/checkpoints`: the last k and the best are kept."""

import os
from typing import Any, Optional, Tuple

import flax
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
    options = ocp.CheckpointManagerOptions(max_to_keep=None, create=True)
    self._manager = ocp.CheckpointManager(self.directory, options=options)

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

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
