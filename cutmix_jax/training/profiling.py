"""`config.profile_steps`: a `jax.profiler` trace of a window of train steps.

The trace goes to `WORKDIR/profile`: an `.xplane.pb` for TensorBoard's profile plugin and a
`perfetto_trace.json.gz` for Perfetto. Only
process 0 traces; the steps run as they would without it, so the results do not change.
"""

from typing import Sequence

import jax


class ProfileWindow:
  """Starts a trace before step START and stops it once step STOP-1 has finished."""

  def __init__(self, steps: Sequence[int], directory: str, enabled: bool):
    self.steps = tuple(steps) if enabled else ()
    self.directory = directory
    self.active = False

  def before(self, step: int) -> None:
    """Called before running `step`: starts the trace at the first step of the window."""
    if self.steps and not self.active and self.steps[0] <= step < self.steps[1]:
      jax.profiler.start_trace(self.directory, create_perfetto_trace=True)
      self.active = True

  def after(self, done: int, state) -> None:
    """Called with the number of steps done: stops the trace once the window is done."""
    if self.active and done >= self.steps[1]:
      self.stop(state)

  def stop(self, state) -> None:
    """Stops a running trace, after the state's computation has finished."""
    if self.active:
      jax.block_until_ready(state)
      jax.profiler.stop_trace()
      self.active = False
