"""CutMix (Yun et al., 2019) as a pure function of a `jax.random` key, and its draw.

The draw (`draw_cutmix`: partners, lam, the key of the box) is separate from the paste, so that
input-level CutMix and feature-level CutMix (`feature_mix`, at any stage's resolution) share it.
Conventions as the package's (`cutmix_jax`): NHWC images or NTHWC clips, integer labels with
`num_classes` or soft targets, `(images, labels, *extras)` out.
"""

from typing import NamedTuple, Optional, Sequence, Tuple

import jax

from cutmix_jax.ops import arguments
from cutmix_jax.ops import boxes
from cutmix_jax.ops import detection
from cutmix_jax.ops import mask_mix
from cutmix_jax.ops import partners as partners_lib


class CutMixDraw(NamedTuple):
  """What one CutMix call draws: the partners, lam and the key of the box.

  The box is drawn last, in the coordinates of whatever is mixed (`box`), so input-level CutMix
  and feature-level CutMix (`cutmix_jax.ops.feature_mix`, at any stage's resolution) share one draw.

  Attributes:
    pairing: the partners (`partners.Pairing`).
    lam: the Beta draw: a scalar, or with mode 'pair' or 'elem' one per image of the whole
      drawn batch (`(pairing.size,)`, the same for both of a pair; `local_lam` is this call's
      share).
    box_key: the key of the box position(s).
    mode: 'batch' (one lam and box), 'pair' (one per pair of partners), 'elem' (one per image).
    minmax: timm's box sides `(low, high)`, or () for the official sampler.
  """

  pairing: partners_lib.Pairing
  lam: jax.Array
  box_key: jax.Array
  mode: str = 'batch'
  minmax: Tuple[float, ...] = ()

  def box(self, height: int, width: int) -> boxes.Box:
    """The box(es) `(y1, y2, x1, x2)` in an `H x W` map: scalars, or `(n,)` per pair or image."""
    if self.mode == 'batch':
      return _draw_boxes(self.box_key, self.lam, 0, height, width, self.minmax)
    box = _draw_boxes(self.box_key, self.lam, self.pairing.size, height, width, self.minmax)
    return tuple(self.pairing.local(self.pairing.shared(edge)) for edge in box)

  @property
  def local_lam(self) -> jax.Array:
    """lam of this call's rows."""
    return self.lam if self.mode == 'batch' else self.pairing.local(self.lam)


def draw_cutmix(
    rng,
    images,
    *,
    alpha=1.0,
    mode: str = 'batch',
    minmax: Optional[Sequence[float]] = None,
    partners: str = 'global',
    axis_name: Optional[str] = None,
) -> CutMixDraw:
  """The partners, lam and box key of a CutMix call, as `cutmix` draws them from `rng`.

  Args as `cutmix`; `images` only lend their batch (its size and layout).
  """
  boxes.check_minmax(minmax)
  pairing, lam, key_box = mask_mix.draw_partners_and_lam(
      rng, images, alpha, partners, axis_name, mode
  )
  return CutMixDraw(pairing, lam, key_box, mode, tuple(minmax or ()))


def _draw_boxes(box_key, lam, count: int, height: int, width: int, minmax):
  """One box (`count` = 0) or `count` boxes, from the official sampler or timm's min-max one."""
  if minmax:
    sample = lambda key, _: boxes.sample_box_minmax(key, minmax, height, width)
  else:
    sample = lambda key, lam_: boxes.sample_box(key, lam_, height, width)
  if not count:
    return sample(box_key, lam)
  return jax.vmap(sample)(jax.random.split(box_key, count), lam)


def cutmix(
    rng,
    images,
    labels,
    *extras,
    alpha=1.0,
    mode: str = 'batch',
    num_classes: Optional[int] = None,
    minmax: Optional[Sequence[float]] = None,
    correct_lam: bool = True,
    partners: str = 'global',
    axis_name: Optional[str] = None,
    min_visible: float = detection.MIN_VISIBLE,
):
  """CutMix (Yun et al., 2019): paste a box from a partner image, mix labels by its area.

  lam ~ Beta(alpha, alpha); partners are a random permutation of the batch (an image may be its
  own partner); the label weight on the partner is the exact clipped box area over `H * W`.

  Args:
    rng: a `jax.random` key (the same on every device under `pmap`; see `cutmix_jax.ops.partners`).
    images: `(N, H, W, C)` images or `(N, T, H, W, C)` clips (one box per clip), any dtype.
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    *extras: targets that follow the paste: dense maps `(N, H, W[, K])` (segmentation) take the
      same pixels; `detection.Boxes` and `detection.Keypoints` keep what stays visible and gain
      the partner's inside the box (`(N, 2M)` out of `(N, M)`).
    alpha: Beta parameter (the paper's beta), > 0; may be traced.
    mode: 'batch' is the paper (one lam and one box per batch); 'elem' draws an independent
      lam and box for each image; 'pair' pairs the images two by two, each pasting into the
      other with one lam and box per pair (timm's modes).
    num_classes: K, for integer labels.
    minmax: timm's `cutmix_minmax` `(low, high)`: box sides uniform in those fractions of the
      image, placed inside it, lam unused for the box; labels always follow the exact area.
    correct_lam: True (the official code) weighs the partner's label by the exact clipped box
      area; False by the sampled `1 - lam` (timm's `correct_lam=False`).
    partners: 'global' (the paper: one draw for the whole batch, across devices) or 'device'.
    axis_name: the `pmap` / `shard_map` axis of the batch, if any.
    min_visible: boxes: the share of a box's area that must stay visible for it to be kept.

  Returns:
    `(mixed_images, mixed_labels, *mixed_extras)`, the extras in the order given. Images keep
    their shape and dtype; labels are float `(N, K)`. The draw itself: `draw_cutmix`.
  """
  arguments.check_images(images)
  labels = arguments.soft_targets(labels, images.shape[0], num_classes)
  draw = draw_cutmix(
      rng,
      images,
      alpha=alpha,
      mode=mode,
      minmax=minmax,
      partners=partners,
      axis_name=axis_name,
  )
  box = draw.box(images.shape[-3], images.shape[-2])
  weight = None if correct_lam or minmax else 1.0 - draw.local_lam
  mixed = mask_mix.paste_rectangle(
      images, labels, box, draw.pairing, extras, weight=weight, min_visible=min_visible
  )
  return mask_mix.poison_by_lam(mixed, draw.lam, alpha)
