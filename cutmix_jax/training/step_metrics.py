"""Train-step metrics on the host: read back in batches, none dropped, epoch sums kept on resume.

The loop hands every step's device metrics to `add` and reads them back (one host sync) only at
log points and saves. A read-back between log points (a save) keeps its rows until the next log
row, so every step reaches `metrics.jsonl`; the running sum of the epoch's losses is saved in the
checkpoint's progress, so an epoch interrupted and resumed still reports its whole mean loss.
"""

from typing import List, NamedTuple

import jax
import numpy as np

from cutmix_jax.errors import UserError
from cutmix_jax.training import progress as progress_lib


class StepRow(NamedTuple):
  """The host values of one train step's metrics (the train step's `metrics` dict)."""

  loss: float
  accuracy: float
  learning_rate: float
  mix_prob: float


class NonFiniteLossError(UserError, RuntimeError):
  """The training loss became NaN or infinite at `step`; the message can say what was kept.

  Attributes:
    step: the first step whose loss is not finite.
    value: that loss.
  """

  def __init__(self, step: int, value: float, kept: str = ''):
    self.step, self.value = step, value
    where = f'; {kept}' if kept else ''
    super().__init__(
        f'training loss is {value} at step {step}: stopped{where}. Lower the learning rate or '
        'check the data (a traced mixing value out of range, such as alpha <= 0, also gives '
        'NaN) before running again.'
    )


class StepMetrics:
  """Device metrics of the steps since the last read-back, and host rows not logged yet."""

  def __init__(self):
    self._pending = []  # device metrics, one dict per step
    self._unlogged: List[StepRow] = []  # host values, one per step
    self._epoch_sum, self._epoch_count = 0.0, 0

  def add(self, metrics) -> None:
    self._pending.append(metrics)

  def read_back(self, step: int) -> None:
    """Moves the pending metrics of the steps up to `step` to the host (one sync) and checks
    that every loss is finite.

    Raises:
      NonFiniteLossError: for the first step whose loss is not finite.
    """
    if not self._pending:
      return
    host = jax.device_get(self._pending)
    rows = [StepRow(*(float(np.asarray(m[k]).flat[0]) for k in StepRow._fields)) for m in host]
    first_step = step - len(rows) + 1
    self._pending = []
    bad = next((i for i, row in enumerate(rows) if not np.isfinite(row.loss)), None)
    if bad is not None:
      raise NonFiniteLossError(first_step + bad, rows[bad].loss)
    self._unlogged.extend(rows)
    self._epoch_sum += sum(row.loss for row in rows)
    self._epoch_count += len(rows)

  def take_row(self) -> dict:
    """The means of every step read back since the last row (empty if none); the learning rate
    of the last of them."""
    if not self._unlogged:
      return {}
    mean = StepRow(*np.mean(self._unlogged, axis=0))
    row = {
        'train_loss': float(mean.loss),
        'train_accuracy': float(mean.accuracy),
        'learning_rate': self._unlogged[-1].learning_rate,
        'mix_prob': float(mean.mix_prob),
    }
    self._unlogged = []
    return row

  def take_epoch_loss(self) -> float:
    """The mean train loss of the epoch so far (resumed parts included); starts a new epoch."""
    mean = self._epoch_sum / self._epoch_count if self._epoch_count else float('nan')
    self._epoch_sum, self._epoch_count = 0.0, 0
    return mean

  def save_into(self, progress: progress_lib.Progress) -> None:
    """Writes the epoch's running sums and the rows not logged yet into `progress` (what a
    checkpoint keeps)."""
    progress.epoch_loss_sum, progress.epoch_loss_count = self._epoch_sum, self._epoch_count
    progress.unlogged_rows = [list(row) for row in self._unlogged]

  def resume(self, progress: progress_lib.Progress) -> None:
    """Continues the epoch's sums and the unlogged rows of a restored checkpoint."""
    self._epoch_sum, self._epoch_count = progress.epoch_loss_sum, progress.epoch_loss_count
    self._unlogged = [StepRow(*row) for row in progress.unlogged_rows]
