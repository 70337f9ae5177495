"""Train-step metrics on the host: read back in batches, none dropped, epoch sums kept on resume.

The loop hands every step's device metrics to `add` and reads them back (one host sync) only at
log points and saves. A read-back between log points (a save) keeps its rows until the next log
row, so every step reaches `metrics.jsonl`; the running sum of the epoch's losses is saved in the
checkpoint's progress, so an epoch interrupted and resumed still reports its whole mean loss.
"""

import jax
import numpy as np

from cutmix_jax import progress as progress_lib

_KEYS = ('loss', 'accuracy', 'learning_rate', 'mix_prob')  # the train step's metrics


class NonFiniteLossError(RuntimeError):
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
        'check the data before running again.'
    )


class StepMetrics:
  """Device metrics of the steps since the last read-back, and host rows not logged yet."""

  def __init__(self):
    self._pending = []  # device metrics, one dict per step
    self._unlogged = []  # host (loss, accuracy, learning rate, mix prob), one per step
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
    rows = [tuple(float(np.asarray(m[k])[0]) for k in _KEYS) for m in host]
    first_step = step - len(rows) + 1
    self._pending = []
    bad = next((i for i, row in enumerate(rows) if not np.isfinite(row[0])), None)
    if bad is not None:
      raise NonFiniteLossError(first_step + bad, rows[bad][0])
    self._unlogged.extend(rows)
    self._epoch_sum += sum(row[0] for row in rows)
    self._epoch_count += len(rows)

  def take_row(self) -> dict:
    """The means of every step read back since the last row (empty if none); the learning rate
    of the last of them."""
    if not self._unlogged:
      return {}
    loss, accuracy, _, mix_prob = np.mean(self._unlogged, axis=0)
    row = {
        'train_loss': float(loss),
        'train_accuracy': float(accuracy),
        'learning_rate': self._unlogged[-1][2],
        'mix_prob': float(mix_prob),
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
    self._unlogged = [tuple(row) for row in progress.unlogged_rows]
