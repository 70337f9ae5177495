"""The optimisers: the paper's SGD (Nesterov momentum, coupled weight decay, step decay), DeiT's
AdamW (decoupled weight decay, not on biases, norms and embeddings) with a cosine schedule, and
DeiT III's LAMB (apex's FusedLAMB, as its recipes run it).
"""

import dataclasses
from typing import Tuple

import jax
import optax

OPTIMIZERS = ('sgd', 'adamw', 'lamb')
LAMB_MAX_GRAD_NORM = 1.0  # apex FusedLAMB's default max_grad_norm, which DeiT III keeps
SCHEDULES = ('step', 'cosine')
# Parameters that AdamW does not decay besides every vector (biases, norm scales): timm's
# `no_weight_decay` of a ViT.
NO_DECAY = ('pos_embed', 'cls_token')


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
  """The optimizer and its schedule: the fields of `config.optimizer`.

  Attributes:
    name: 'sgd' (the paper's), 'adamw' (DeiT's) or 'lamb' (DeiT III's).
    schedule: 'step' (`decay_factor` at each of `decay_epochs`) or 'cosine' (from the peak to
      `min_learning_rate` at the end of training), either after the warm-up.
    learning_rate: peak learning rate (before the linear scaling rule), > 0.
    reference_batch_size: if > 0, `lr *= batch_size / reference_batch_size` (Goyal et al.,
      2017); 0: no scaling.
    momentum: SGD momentum.
    nesterov: Nesterov momentum, as the official code.
    weight_decay: SGD: coupled L2 on every parameter (added to the gradient before momentum);
      AdamW and LAMB: decoupled, on the matrices and kernels only (not biases, norms,
      `NO_DECAY`).
    warmup_epochs: linear warm-up length in epochs.
    decay_epochs: the lr is multiplied by `decay_factor` at each of these epochs (after the
      warm-up).
    decay_factor: the step decay factor.
    min_learning_rate: where the cosine schedule ends (timm's `min_lr`).
    betas: AdamW's and LAMB's `(b1, b2)`.
  """

  name: str = 'sgd'
  schedule: str = 'step'
  learning_rate: float = 0.1
  reference_batch_size: int = 0
  momentum: float = 0.9
  nesterov: bool = True
  weight_decay: float = 1e-4
  warmup_epochs: float = 0.0
  decay_epochs: Tuple[float, ...] = ()
  decay_factor: float = 0.1
  min_learning_rate: float = 0.0
  betas: Tuple[float, float] = (0.9, 0.999)

  def __post_init__(self):
    object.__setattr__(self, 'decay_epochs', tuple(self.decay_epochs))
    object.__setattr__(self, 'betas', tuple(self.betas))
    for field, value, valid in (
        ('name', self.name, OPTIMIZERS),
        ('schedule', self.schedule, SCHEDULES),
    ):
      if value not in valid:
        raise ValueError(f'{field}={value!r} is not valid; choose one of: {", ".join(valid)}')
    if self.schedule == 'cosine' and self.decay_epochs:
      raise ValueError(f"decay_epochs={self.decay_epochs} is for schedule='step'; cosine has none")
    if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
      raise ValueError(f'betas={self.betas} must be two numbers in [0, 1)')
    if not 0 <= self.min_learning_rate <= self.learning_rate:
      raise ValueError(
          f'min_learning_rate={self.min_learning_rate!r} must be in [0, learning_rate]'
      )
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
    opt: OptimizerConfig, batch_size: int, steps_per_epoch: int, total_steps: int = 0
) -> optax.Schedule:
  """Linear warm-up, then piecewise constant (`decay_factor` at each of `decay_epochs`) or a
  cosine to `min_learning_rate` at `total_steps`.

  Boundaries are given in epochs (CIFAR: 50% and 75% of training; ImageNet: 75/150/225) and
  converted to steps here, so the schedule depends on the step alone (exact resume).

  Args:
    opt: the optimizer settings.
    batch_size: the global batch size (for the linear scaling rule).
    steps_per_epoch: steps of one epoch.
    total_steps: steps of the whole run (the cosine's end); needed by 'cosine' only.
  """
  peak = scaled_learning_rate(opt, batch_size)
  warmup_steps = int(opt.warmup_epochs * steps_per_epoch)
  if opt.schedule == 'cosine':
    if total_steps <= warmup_steps:
      raise ValueError(f'a cosine schedule needs more steps ({total_steps}) than its warm-up')
    floor = opt.min_learning_rate / peak if peak else 0.0
    decayed = optax.cosine_decay_schedule(peak, total_steps - warmup_steps, alpha=floor)
  else:
    # join_schedules hands the second schedule `step - warmup_steps`: shift its boundaries back
    # so that they stay at their absolute epochs.
    boundaries = {
        int(epoch * steps_per_epoch) - warmup_steps: opt.decay_factor for epoch in opt.decay_epochs
    }
    decayed = optax.piecewise_constant_schedule(peak, boundaries)
  if not warmup_steps:
    return decayed
  warmup = optax.linear_schedule(peak / warmup_steps, peak, warmup_steps)
  return optax.join_schedules([warmup, decayed], [warmup_steps])


def decayed_by_adamw(params):
  """True for each parameter that AdamW decays: kernels and matrices, not vectors (biases, norm
  scales) nor `NO_DECAY` (a ViT's position embedding and class token), as timm and DeiT."""

  def decayed(path, leaf):
    names = {getattr(key, 'key', None) for key in path}
    return leaf.ndim >= 2 and not names & set(NO_DECAY)

  return jax.tree_util.tree_map_with_path(decayed, params)


def lamb(opt: OptimizerConfig, schedule: optax.Schedule) -> optax.GradientTransformation:
  """LAMB as apex's `FusedLAMB` (DeiT III's `--opt fusedlamb`): the gradients clipped to global
  norm `LAMB_MAX_GRAD_NORM`, Adam's bias-corrected moments (eps 1e-6), the decay of
  `decayed_by_adamw` added, and the layer-wise trust ratio `|w| / |update|` only on the decayed
  parameters (apex's `use_nvlamb=False`); optax's `lamb` would scale every parameter."""
  b1, b2 = opt.betas
  return optax.chain(
      optax.clip_by_global_norm(LAMB_MAX_GRAD_NORM),
      optax.scale_by_adam(b1=b1, b2=b2, eps=1e-6),
      optax.add_decayed_weights(opt.weight_decay, mask=decayed_by_adamw),
      optax.masked(optax.scale_by_trust_ratio(), decayed_by_adamw),
      optax.scale_by_learning_rate(schedule),
  )


def make_optimizer(opt: OptimizerConfig, schedule: optax.Schedule) -> optax.GradientTransformation:
  """The optimizer of `opt`, with the run's `schedule` (built once, also logged by the step).

  SGD as the official code runs it: `g + wd * w`, then (Nesterov) momentum, then `-lr`; weight
  decay coupled (as `torch.optim.SGD`) on every parameter, BatchNorm scale and bias included, as
  in the paper's recipes. AdamW as `torch.optim.AdamW` (eps 1e-8), its decay decoupled and
  masked by `decayed_by_adamw`; LAMB as `lamb`.
  """
  b1, b2 = opt.betas
  if opt.name == 'adamw':
    return optax.adamw(
        schedule, b1=b1, b2=b2, eps=1e-8, weight_decay=opt.weight_decay, mask=decayed_by_adamw
    )
  if opt.name == 'lamb':
    return lamb(opt, schedule)
  return optax.chain(
      optax.add_decayed_weights(opt.weight_decay),
      optax.sgd(schedule, momentum=opt.momentum, nesterov=opt.nesterov),
  )
