"""The paper's optimiser: SGD with Nesterov momentum, coupled weight decay, step-decay schedule."""

import optax


def check_optimizer(opt) -> None:
  """Raises ValueError naming the field of an optimizer section (`config.optimizer`) that
  cannot work."""
  if not opt.learning_rate > 0:
    raise ValueError(f'learning_rate={opt.learning_rate!r} must be > 0')
  if any(epoch < opt.warmup_epochs for epoch in opt.decay_epochs):
    raise ValueError(
        f'decay_epochs={tuple(opt.decay_epochs)} must all come after the warm-up '
        f'(warmup_epochs={opt.warmup_epochs})'
    )


def scaled_learning_rate(opt, batch_size: int) -> float:
  """The base learning rate, scaled linearly by `batch_size / reference_batch_size` if asked.

  The linear scaling rule (Goyal et al., 2017) keeps a recipe's lr per image when the global batch
  grows; `reference_batch_size = 0` turns it off.
  """
  if opt.reference_batch_size:
    return opt.learning_rate * batch_size / opt.reference_batch_size
  return opt.learning_rate


def learning_rate_schedule(opt, batch_size: int, steps_per_epoch: int) -> optax.Schedule:
  """Linear warm-up, then piecewise constant: `decay_factor` at each of `decay_epochs`.

  Boundaries are given in epochs (CIFAR: 50% and 75% of training; ImageNet: 75/150/225) and
  converted to steps here, so the schedule depends on the step alone (exact resume).

  Args:
    opt: the optimizer section of a config (`config.optimizer`).
    batch_size: the global batch size (for the linear scaling rule).
    steps_per_epoch: steps of one epoch.
  """
  check_optimizer(opt)
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


def make_optimizer(opt, batch_size: int, steps_per_epoch: int) -> optax.GradientTransformation:
  """SGD as the official code runs it: `g + wd * w`, then (Nesterov) momentum, then `-lr`.

  Weight decay is coupled (added to the gradient before momentum, as `torch.optim.SGD`) and
  applies to every parameter, BatchNorm scale and bias included, as in the paper's recipes.
  Arguments as `learning_rate_schedule`.
  """
  return optax.chain(
      optax.add_decayed_weights(opt.weight_decay),
      optax.sgd(
          learning_rate_schedule(opt, batch_size, steps_per_epoch),
          momentum=opt.momentum,
          nesterov=opt.nesterov,
      ),
  )
