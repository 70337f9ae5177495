"""The paper's optimiser: SGD with Nesterov momentum, coupled weight decay, step-decay schedule."""

import dataclasses
from typing import Tuple

import optax


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
  """The optimizer and its schedule: the fields of `config.optimizer`.

  Attributes:
    learning_rate: peak learning rate (before the linear scaling rule), > 0.
    reference_batch_size: if > 0, `lr *= batch_size / reference_batch_size` (Goyal et al.,
      2017); 0: no scaling.
    momentum: SGD momentum.
    nesterov: Nesterov momentum, as the official code.
    weight_decay: coupled L2 on every parameter (added to the gradient before momentum).
    warmup_epochs: linear warm-up length in epochs.
    decay_epochs: the lr is multiplied by `decay_factor` at each of these epochs (after the
      warm-up).
    decay_factor: the step decay factor.
  """

  learning_rate: float = 0.1
  reference_batch_size: int = 0
  momentum: float = 0.9
  nesterov: bool = True
  weight_decay: float = 1e-4
  warmup_epochs: float = 0.0
  decay_epochs: Tuple[float, ...] = ()
  decay_factor: float = 0.1

  def __post_init__(self):
    object.__setattr__(self, 'decay_epochs', tuple(self.decay_epochs))
    if not self.learning_rate > 0:
      raise ValueError(f'learning_rate={self.learning_rate!r} must be > 0')
    if not 0 <= self.momentum < 1:  # 1 or more: the update grows without bound
      raise ValueError(f'momentum={self.momentum!r} must be in [0, 1)')
    if not self.weight_decay >= 0:  # negative: the weights are pushed to grow
      raise ValueError(f'weight_decay={self.weight_decay!r} must be >= 0')
    if any(epoch < self.warmup_epochs for epoch in self.decay_epochs):
      raise ValueError(
          f'decay_epochs={self.decay_epochs} must all come after the warm-up '
          f'(warmup_epochs={self.warmup_epochs})'
      )


def scaled_learning_rate(opt: OptimizerConfig, batch_size: int) -> float:
  """The base learning rate, scaled linearly by `batch_size / reference_batch_size` if asked.

  The linear scaling rule (Goyal et al., 2017) keeps a recipe's lr per image when the global batch
  grows; `reference_batch_size = 0` turns it off.
  """
  if opt.reference_batch_size:
    return opt.learning_rate * batch_size / opt.reference_batch_size
  return opt.learning_rate


def learning_rate_schedule(
    opt: OptimizerConfig, batch_size: int, steps_per_epoch: int
) -> optax.Schedule:
  """Linear warm-up, then piecewise constant: `decay_factor` at each of `decay_epochs`.

  Boundaries are given in epochs (CIFAR: 50% and 75% of training; ImageNet: 75/150/225) and
  converted to steps here, so the schedule depends on the step alone (exact resume).

  Args:
    opt: the optimizer settings.
    batch_size: the global batch size (for the linear scaling rule).
    steps_per_epoch: steps of one epoch.
  """
  peak = scaled_learning_rate(opt, batch_size)
  warmup_steps = int(opt.warmup_epochs * steps_per_epoch)
  # join_schedules hands the second schedule `step - warmup_steps`: shift its boundaries back so
  # that they stay at their absolute epochs.
  boundaries = {
      int(epoch * steps_per_epoch) - warmup_steps: opt.decay_factor for epoch in opt.decay_epochs
  }
  decayed = optax.piecewise_constant_schedule(peak, boundaries)
  if not warmup_steps:
    return decayed
  warmup = optax.linear_schedule(peak / warmup_steps, peak, warmup_steps)
  return optax.join_schedules([warmup, decayed], [warmup_steps])


def make_optimizer(opt: OptimizerConfig, schedule: optax.Schedule) -> optax.GradientTransformation:
  """SGD as the official code runs it: `g + wd * w`, then (Nesterov) momentum, then `-lr`.

  Weight decay is coupled (added to the gradient before momentum, as `torch.optim.SGD`) and
  applies to every parameter, BatchNorm scale and bias included, as in the paper's recipes.
  `schedule` is the run's `learning_rate_schedule`, built once and also logged by the step.
  """
  return optax.chain(
      optax.add_decayed_weights(opt.weight_decay),
      optax.sgd(schedule, momentum=opt.momentum, nesterov=opt.nesterov),
  )
