"""`Mixer`: a train step's mixing as one object and one call, with timm's `Mixup` arguments.

  mix = cm.Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, switch_prob=0.5, label_smoothing=0.1,
                 num_classes=1000)                      # DeiT's mixing
  images, targets = mix(key, images, labels)            # labels: (N,) class ids

A `Mixer` is hashable and static under `jax.jit` (pass it as an argument or close over it); it
builds the `MixConfig` that `mix_batch` runs (`Mixer.config`), so every method's exactness,
partners and checks are the package's. It differs from timm's on purpose in the partners: a
random permutation of the (global) batch, as the CutMix paper's code, not the reversed batch.
"""

import dataclasses
from typing import Optional, Tuple

import jax
import jax.numpy as jnp

from cutmix_jax.ops import arguments
from cutmix_jax.ops import dispatch
from cutmix_jax.ops import labels as labels_lib
from cutmix_jax.ops import mix_config


@jax.tree_util.register_static
@dataclasses.dataclass(frozen=True, kw_only=True)
class Mixer:
  """Mixup and/or CutMix with label smoothing, as timm's `Mixup(...)` takes them.

  Attributes:
    num_classes: K of the soft targets (timm's default of 1000 is not assumed).
    mixup_alpha: Mixup's Beta parameter; 0 turns Mixup off.
    cutmix_alpha: CutMix's Beta parameter; 0 turns CutMix off (unless `cutmix_minmax`).
    cutmix_minmax: timm's box sides `(low, high)` as fractions of the image; turns CutMix on
      (with alpha 1, as timm); None: the paper's sampler.
    prob: the probability that a batch (pair, image) is mixed at all.
    switch_prob: with both on, the probability of CutMix rather than Mixup (timm's meaning:
      P(CutMix); `config.mix.cutmix.mixup_prob` is its complement).
    mode: 'batch', 'pair' or 'elem': one draw per batch, per pair of partners, per image.
    correct_lam: weigh the partner's label by the exact box area (True) or the drawn lam.
    label_smoothing: `(1 - s) * targets + s / K`, before mixing.
    partners: 'global' (one draw for the whole batch, across devices) or 'device'.
    config: the `MixConfig` this runs (built from the above; not an argument).
  """

  num_classes: int
  mixup_alpha: float = 1.0
  cutmix_alpha: float = 0.0
  cutmix_minmax: Optional[Tuple[float, float]] = None
  prob: float = 1.0
  switch_prob: float = 0.5
  mode: str = 'batch'
  correct_lam: bool = True
  label_smoothing: float = 0.1
  partners: str = 'global'
  config: mix_config.MixConfig = dataclasses.field(init=False, repr=False, compare=False)

  def __post_init__(self):
    if self.cutmix_minmax is not None:
      object.__setattr__(self, 'cutmix_minmax', tuple(self.cutmix_minmax))
    if not (isinstance(self.num_classes, int) and self.num_classes > 0):
      raise ValueError(f'num_classes must be a positive integer; got {self.num_classes!r}')
    labels_lib.check_label_smoothing(self.label_smoothing)
    arguments.check_range('switch_prob', self.switch_prob, 0.0, 1.0)
    for name in ('mixup_alpha', 'cutmix_alpha'):
      if getattr(self, name) < 0:
        raise ValueError(f'{name} must be >= 0 (0: off); got {getattr(self, name)}')
    object.__setattr__(self, 'config', self._build_config())

  def _build_config(self) -> mix_config.MixConfig:
    """The `MixConfig` of these settings: 'cutmix' (switching to Mixup with probability
    `1 - switch_prob` when both are on) or 'mixup'."""
    cutmix_on = self.cutmix_alpha > 0 or self.cutmix_minmax is not None
    common = dict(prob=self.prob, partners=self.partners)
    if cutmix_on:
      both = self.mixup_alpha > 0
      cutmix = dict(
          mode=self.mode,
          minmax=self.cutmix_minmax or (),
          correct_lam=self.correct_lam,
          mixup_prob=1.0 - self.switch_prob if both else 0.0,
          mixup_alpha=self.mixup_alpha if both else 0.0,
      )
      alpha = 1.0 if self.cutmix_minmax is not None else self.cutmix_alpha
      return mix_config.MixConfig(
          method='cutmix', alpha=alpha, sections={'cutmix': cutmix}, **common
      )
    if self.mixup_alpha > 0:
      return mix_config.MixConfig(
          method='mixup',
          alpha=self.mixup_alpha,
          sections={'mixup': {'mode': self.mode}},
          **common,
      )
    raise ValueError(
        'Mixer mixes nothing: set mixup_alpha > 0, cutmix_alpha > 0 or cutmix_minmax '
        "(for no mixing use cm.MixConfig(method='none'))"
    )

  def __call__(self, rng, images, labels, *extras, axis_name: Optional[str] = None):
    """Mixes one batch: `(images, targets, *extras)`.

    Args:
      rng: a `jax.random` key (the same on every device under `pmap` / `shard_map`).
      images: `(N, H, W, C)` or `(N, T, H, W, C)`, any dtype (kept).
      labels: class ids `(N,)` or soft targets `(N, K)`, smoothed before mixing.
      *extras: dense maps (and boxes or keypoints with CutMix alone) that follow the mix.
      axis_name: the `pmap` / `shard_map` axis of the batch, if any.

    Returns:
      The mixed images, float32 soft targets `(N, K)` and extras (`mix_batch`).
    """
    targets = arguments.soft_targets(labels, images.shape[0], self.num_classes)
    if targets.shape[1] != self.num_classes:
      raise ValueError(
          f'soft targets of shape {targets.shape} have {targets.shape[1]} classes; this Mixer '
          f'has num_classes={self.num_classes}'
      )
    smoothing = self.label_smoothing
    targets = (1.0 - smoothing) * targets.astype(jnp.float32) + smoothing / self.num_classes
    return dispatch.mix_batch(
        rng, images, targets, *extras, config=self.config, axis_name=axis_name
    )
