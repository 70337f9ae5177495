"""Train-step metrics on the host: read back in batches, none dropped, epoch sums kept on resume.

The loop hands every step's device metrics to `add` and reads them back (one host sync) only at
log points and saves. A read-back between log points (a save) keeps its rows until the next log
row, so every step reaches `metrics.jsonl`; the running sum of the epoch's losses is saved in the
checkpoint's progress, so an epoch interrupted and resumed still reports its whole mean loss.
"""

from typing import Optional

import jax
import numpy as np


class NonFiniteLossError(RuntimeError):
  """The training loss became NaN or infinite; the last good checkpoint is left as it was."""


class StepMetrics:
  """Device metrics of the steps since the last read-back, and host rows not logged yet."""

  def __init__(self):
    self._pending = []  # device metrics, one dict per step
    self._unlogged = []  # host (loss, accuracy, learning rate), one per step
    self._epoch_sum, self._epoch_count = 0.0, 0

  def add(self, metrics) -> None:
    self._pending.append(metrics)

  def read_back(self, step: int, last_checkpoint: Optional[int], directory: str) -> None:
    """Moves the pending metrics to the host (one sync) and checks that every loss is finite.

    Raises:
      NonFiniteLossError: naming the first bad step and the last good checkpoint, if any.
    """
    if not self._pending:
      return
    host = jax.device_get(self._pending)
    rows = [
        tuple(float(np.asarray(m[k])[0]) for k in ('loss', 'accuracy', 'learning_rate'))
        for m in host
    ]
    first_step = step - len(rows) + 1
    self._pending = []
    bad = next((i for i, row in enumerate(rows) if not np.isfinite(row[0])), None)
    if bad is not None:
      kept = (
          f'the last good checkpoint (step {last_checkpoint}) in {directory} is intact'
          if last_checkpoint is not None
          else f'no checkpoint has been saved yet in {directory}'
      )
      raise NonFiniteLossError(
          f'training loss is {rows[bad][0]} at step {first_step + bad}: stopped; {kept}. Lower '
          'the learning rate or check the data before running again.'
      )
    self._unlogged.extend(rows)
    self._epoch_sum += sum(row[0] for row in rows)
    self._epoch_count += len(rows)

  def take_row(self) -> dict:
    """The means of every step read back since the last row (empty if none)."""
    if not self._unlogged:
      return {}
    loss, accuracy, _ = np.mean(self._unlogged, axis=0)
    row = {
        'train_loss': float(loss),
        'train_accuracy': float(accuracy),
        'learning_rate': self._unlogged[-1][2],
    }
    self._unlogged = []
    return row

  def take_epoch_loss(self) -> float:
    """The mean train loss of the epoch so far (resumed parts included); starts a new epoch."""
    mean = self._epoch_sum / self._epoch_count if self._epoch_count else float('nan')
    self._epoch_sum, self._epoch_count = 0.0, 0
    return mean

  def progress(self) -> dict:
    """What a checkpoint keeps so that a resume continues the epoch's sums."""
    return {'epoch_loss_sum': self._epoch_sum, 'epoch_loss_count': self._epoch_count}

  def resume(self, progress: dict) -> None:
    self._epoch_sum = float(progress.get('epoch_loss_sum', 0.0))
    self._epoch_count = int(progress.get('epoch_loss_count', 0))
