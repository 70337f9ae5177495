"""What a run has done so far (`Progress`, saved with every checkpoint), and when the loop acts.

The loop's own state is small and typed: the best eval error and where it was reached, and the
running sums of the epoch's train loss (so an epoch interrupted and resumed still reports its
whole mean). A fresh and a resumed run hold the same fields. Whether an evaluation or an extra
save is due at a step is a pure function of the step and the config.
"""

import dataclasses
from typing import List, Optional


@dataclasses.dataclass
class Progress:
  """The loop state a checkpoint keeps besides the train state.

  Attributes:
    best_eval_top1_error: the lowest eval top-1 error (%) so far, None before the first eval.
    best_step: the step of that evaluation.
    best_epoch: its epoch.
    epoch_loss_sum: sum of the train losses of the current epoch's steps so far.
    epoch_loss_count: how many steps that sum holds.
    unlogged_rows: the metrics (loss, accuracy, learning rate, mix prob) of the steps read back
      since the last row of `metrics.jsonl` (a save between log points): the next row takes
      them in, interrupted or not.
    device_count: the devices the run trained on (None: a checkpoint from before it was kept).
  """

  best_eval_top1_error: Optional[float] = None
  best_step: Optional[int] = None
  best_epoch: Optional[int] = None
  epoch_loss_sum: float = 0.0
  epoch_loss_count: int = 0
  unlogged_rows: List[List[float]] = dataclasses.field(default_factory=list)
  device_count: Optional[int] = None

  def record_eval(self, top1_error: float, step: int, epoch: int) -> None:
    """Keeps `top1_error` as the best if it is lower than every earlier one."""
    if self.best_eval_top1_error is None or top1_error < self.best_eval_top1_error:
      self.best_eval_top1_error, self.best_step, self.best_epoch = top1_error, step, epoch

  def to_json(self) -> dict:
    return dataclasses.asdict(self)

  @classmethod
  def from_json(cls, saved: dict) -> 'Progress':
    """The progress of a checkpoint; keys that are no field (older checkpoints) are ignored."""
    names = {field.name for field in dataclasses.fields(cls)}
    return cls(**{key: value for key, value in saved.items() if key in names})


def eval_due(step: int, *, steps_per_epoch: int, eval_every_epochs: int, total_steps: int) -> bool:
  """Whether the epoch that ends at `step` evaluates (and saves): every `eval_every_epochs`
  epochs, and at the end of training."""
  return (step // steps_per_epoch) % eval_every_epochs == 0 or step == total_steps


def extra_save_due(step: int, *, every_steps: int, epoch_end: int) -> bool:
  """Whether `step` saves a checkpoint of its own (`checkpoint_every_steps`); the end of an
  epoch saves on its own schedule, so it never counts here."""
  return bool(every_steps) and step % every_steps == 0 and step < epoch_end
