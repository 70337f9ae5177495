"""CutMix as a train step runs it: with timm's switch to Mixup for a share of the batches, or of
the pairs or images (`mode`), and CutMix's own settings (`CutMixSettings`)."""

import dataclasses
import functools
from typing import Optional, Sequence, Tuple

import jax
import jax.numpy as jnp

from cutmix_jax.ops import arguments
from cutmix_jax.ops import baselines
from cutmix_jax.ops import boxes
from cutmix_jax.ops import cutmix as cutmix_lib
from cutmix_jax.ops import detection
from cutmix_jax.ops import mask_mix
from cutmix_jax.ops import partners as partners_lib


@dataclasses.dataclass(frozen=True)
class CutMixSettings:
  """CutMix's own settings (`config.mix.cutmix`), as `cutmix_or_mixup` takes them.

  Attributes:
    mode: 'batch' (the paper: one lam and box per batch), 'pair' (per pair of images that are
      each other's partner) or 'elem' (per image): timm's modes.
    minmax: timm's box sides as fractions of the image `(low, high)`; empty: the official
      sampler.
    correct_lam: weigh the partner's label by the exact box area (True, the official code) or
      by the sampled lam (False).
    mixup_prob: the probability that a mixed batch (with mode 'pair' or 'elem': a pair or an
      image) is mixed by Mixup instead: P(Mixup), which is `1 - switch_prob` of timm, whose
      `switch_prob` is P(CutMix) (`cutmix_jax.Mixer` takes timm's).
    mixup_alpha: the Beta parameter of that Mixup; 0 means `alpha` (timm has separate
      `mixup_alpha` and `cutmix_alpha`).
  """

  mode: str = 'batch'
  minmax: Tuple[float, ...] = ()
  correct_lam: bool = True
  mixup_prob: float = 0.0
  mixup_alpha: float = 0.0

  def __post_init__(self):
    object.__setattr__(self, 'minmax', tuple(self.minmax))
    partners_lib.check_mode(self.mode)
    boxes.check_minmax(self.minmax)
    arguments.check_range('mixup_prob', self.mixup_prob, 0.0, 1.0)
    if self.mixup_alpha:
      arguments.check_alpha(self.mixup_alpha)


def _switch_per_row(
    key_switch, key_mix, images, labels, extras, *, alpha, mixup_alpha, mixup_prob, **cut
):
  """Each pair or image mixed by CutMix or, with probability `mixup_prob`, by Mixup (timm's
  `mode='pair'|'elem'` with both on): one float mask, a box or a constant per row."""
  if any(detection.is_geometric(extra) for extra in extras):
    raise ValueError(
        'cutmix with mixup_prob > 0 and mode pair or elem blends some images whole: boxes and '
        'keypoints cannot follow; pass dense maps, or use mixup_prob=0'
    )
  num_classes, correct_lam = cut.pop('num_classes'), cut.pop('correct_lam')
  draw = cutmix_lib.draw_cutmix(key_mix, images, alpha=alpha, **cut)
  pairing, height, width = draw.pairing, images.shape[-3], images.shape[-2]
  key_switch, key_lam = jax.random.split(
      partners_lib.step_key(key_switch, cut['partners'], cut['axis_name'])
  )
  per_row = lambda values: pairing.local(pairing.shared(values))
  valid = arguments.check_alpha(mixup_alpha)
  by_mixup = per_row(jax.random.uniform(key_switch, (pairing.size,)) < mixup_prob)
  mixup_lam = per_row(jax.random.beta(key_lam, mixup_alpha, mixup_alpha, (pairing.size,)))
  box = draw.box(height, width)
  exact = correct_lam or cut['minmax']
  cut_share = boxes.box_area_ratio(box, height, width) if exact else 1.0 - draw.local_lam
  mask = jnp.where(
      by_mixup[:, None, None],
      (1.0 - mixup_lam)[:, None, None],
      mask_mix.box_masks(box, height, width).astype(jnp.float32),
  )
  weight = jnp.where(by_mixup, 1.0 - mixup_lam, cut_share)
  mixed = mask_mix.mix_with_mask(
      images, labels, mask, pairing, *extras, weight=weight, num_classes=num_classes
  )
  mixed = arguments.poison_labels(mixed, valid)
  return mask_mix.poison_by_lam(mixed, draw.lam, alpha)


def draw_cutmix_or_mixup(
    rng, images, *, alpha=1.0, mode='batch', minmax=None, correct_lam=True, **where
):
  """The CutMix draw of a `cutmix_or_mixup` call with the same key (`cutmix.CutMixDraw`); its
  switch to Mixup is not part of it, and `correct_lam` changes only the labels. `where`:
  `partners`, `axis_name`."""
  del correct_lam
  key_mix = jax.random.split(rng)[1]
  return cutmix_lib.draw_cutmix(key_mix, images, alpha=alpha, mode=mode, minmax=minmax, **where)


def cutmix_or_mixup(
    rng,
    images,
    labels,
    *extras,
    alpha=1.0,
    mode: str = 'batch',
    minmax: Optional[Sequence[float]] = None,
    correct_lam: bool = True,
    mixup_prob: float = 0.0,
    mixup_alpha: float = 0.0,
    num_classes: Optional[int] = None,
    partners: str = 'global',
    axis_name: Optional[str] = None,
):
  """`cutmix`, or with probability `mixup_prob` Mixup instead (with `mixup_alpha`, if set):
  for the whole batch with mode 'batch', for each pair or image with 'pair' or 'elem'.

  Args and returns as `cutmix` (the settings are `CutMixSettings`'); with `mixup_prob` > 0
  and mode 'pair' or 'elem' boxes and keypoints are refused (some images are blended whole).
  """
  key_switch, key_mix = jax.random.split(rng)
  cut = dict(
      mode=mode,
      minmax=minmax,
      correct_lam=correct_lam,
      num_classes=num_classes,
      partners=partners,
      axis_name=axis_name,
  )
  by_cutmix = functools.partial(cutmix_lib.cutmix, key_mix, images, labels, *extras, alpha=alpha)
  if mixup_prob == 0.0:
    return by_cutmix(**cut)
  mixup_alpha = mixup_alpha or alpha
  if mode != 'batch':
    return _switch_per_row(
        key_switch,
        key_mix,
        images,
        labels,
        extras,
        alpha=alpha,
        mixup_alpha=mixup_alpha,
        mixup_prob=mixup_prob,
        **cut,
    )
  apply_mixup, _ = mixup_chosen(rng, mixup_prob, partners, axis_name)
  by_mixup = lambda: baselines.mixup(
      key_mix,
      images,
      labels,
      *extras,
      alpha=mixup_alpha,
      num_classes=num_classes,
      partners=partners,
      axis_name=axis_name,
  )
  return jax.lax.cond(apply_mixup, by_mixup, lambda: by_cutmix(**cut))


def mixup_chosen(rng, mixup_prob: float, partners: str, axis_name=None):
  """`(whether a mode-'batch' `cutmix_or_mixup` with key `rng` mixes by Mixup, the key of its
  CutMix draw)`."""
  key_switch, key_mix = jax.random.split(rng)
  if mixup_prob == 0.0:
    return jnp.asarray(False), key_mix
  key_switch = partners_lib.step_key(key_switch, partners, axis_name)
  return jax.random.uniform(key_switch) < mixup_prob, key_mix


def batch_is_mixed(rng, prob, partners: str, axis_name=None):
  """`(whether `mix_batch` with key `rng` and `prob` mixes the batch, the key its method gets)`;
  what a method that weighs the labels after the forward pass (TransMix) needs to know."""
  key_apply, key_mix = jax.random.split(rng)
  if arguments.concrete(prob) == 1.0:
    return jnp.asarray(True), key_mix
  key_apply = partners_lib.step_key(key_apply, partners, axis_name)
  return jax.random.uniform(key_apply) < prob, key_mix
