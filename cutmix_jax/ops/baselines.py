"""The baselines the paper compares CutMix with: Mixup and Cutout, on the same primitive."""

import dataclasses
from typing import Optional

import jax
import jax.numpy as jnp

from cutmix_jax.ops import arguments
from cutmix_jax.ops import boxes
from cutmix_jax.ops import detection
from cutmix_jax.ops import mask_mix
from cutmix_jax.ops import partners as partners_lib

SIZE = 16  # Cutout's square side in pixels by default (the Cutout paper's 16 on CIFAR)


@dataclasses.dataclass(frozen=True)
class MixupSettings:
  """Mixup's own settings (`config.mix.mixup`), as `mixup` takes them."""

  mode: str = 'batch'

  def __post_init__(self):
    partners_lib.check_mode(self.mode)


@dataclasses.dataclass(frozen=True)
class CutoutSettings:
  """Cutout's own settings (`config.mix.cutout`), as `cutout` takes them."""

  size: int = SIZE

  def __post_init__(self):
    arguments.check_size(self.size)


def draw_mixup(
    rng,
    images,
    *,
    alpha=1.0,
    mode: str = 'batch',
    partners: str = 'global',
    axis_name: Optional[str] = None,
) -> mask_mix.MixDraw:
  """The partners and lam (one, or with mode 'pair' or 'elem' one per image of the drawn batch)
  of a `mixup` call with the same arguments (`MixDraw`)."""
  pairing, lam, _ = mask_mix.draw_partners_and_lam(rng, images, alpha, partners, axis_name, mode)
  return mask_mix.MixDraw(pairing, lam)


def mixup(
    rng,
    images,
    labels,
    *extras,
    alpha=1.0,
    mode: str = 'batch',
    num_classes: Optional[int] = None,
    partners: str = 'global',
    axis_name: Optional[str] = None,
):
  """Mixup (Zhang et al., 2018): `lam * x + (1 - lam) * x[perm]`, labels with the same lam.

  Args:
    rng: a `jax.random` key (the same on every device under `pmap`).
    images: `(N, H, W, C)` or `(N, T, H, W, C)`, any dtype: float images keep their dtype;
      integer images (uint8) come back rounded to the nearest integer, so 1.546 becomes 2.
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    *extras: float dense maps `(N, H, W[, K])`, blended with the same lam.
    alpha: Beta parameter, > 0; may be traced.
    mode: 'batch' is the paper (one lam per batch); 'elem' draws a lam per image, 'pair' one
      per pair of images that are each other's partner (timm's modes).
    num_classes: K, for integer labels.
    partners: 'global' or 'device' (see `cutmix`).
    axis_name: the `pmap` / `shard_map` axis of the batch, if any.

  Returns:
    `(mixed_images, mixed_labels, *mixed_extras)`.
  """
  arguments.check_images(images)
  if any(detection.is_geometric(extra) for extra in extras):
    raise ValueError('mixup blends whole images: boxes and keypoints follow only cutmix')
  draw = draw_mixup(rng, images, alpha=alpha, mode=mode, partners=partners, axis_name=axis_name)
  share = 1.0 - (draw.lam if mode == 'batch' else draw.pairing.local(draw.lam))
  mask = jnp.broadcast_to(
      jnp.reshape(share, jnp.shape(share) + (1, 1)).astype(jnp.float32),
      jnp.shape(share) + images.shape[-3:-1],
  )
  return mask_mix.mix_with_mask(
      images, labels, mask, draw.pairing, *extras, weight=share, num_classes=num_classes
  )


def draw_cutout(
    rng,
    images,
    *,
    size: int = SIZE,
    partners: str = 'global',
    axis_name: Optional[str] = None,
) -> mask_mix.MixDraw:
  """The holes of a `cutout` call with the same arguments: `MixDraw` with every row its own
  partner and `box` the `(n,)` edges of each image's square."""
  height, width = arguments.check_images(images)
  half = arguments.check_size(size) // 2
  partners_lib.check_partners(partners)
  keys = partners_lib.local_keys(rng, images, partners, axis_name)
  holes = jax.vmap(boxes.box_around_random_centre, in_axes=(0, None, None, None, None))(
      keys, half, half, height, width
  )
  return mask_mix.MixDraw(partners_lib.Pairing.themselves(images.shape[0]), box=holes)


def cutout(
    rng,
    images,
    labels,
    *extras,
    size: int = SIZE,
    num_classes: Optional[int] = None,
    partners: str = 'global',
    axis_name: Optional[str] = None,
):
  """Cutout (DeVries & Taylor, 2017): zero a square at a uniformly drawn centre, per image.

  The square's edges are `clip(centre -/+ size // 2, 0, dim)` as in the Cutout reference code, so
  an unclipped square has side `2 * (size // 2)` (an odd size rounds down). Clips get one square
  per clip across time. Labels are unchanged (made float soft targets); it is `mix_by_mask`
  with a black partner image and label weight 0.

  Args:
    rng: a `jax.random` key.
    images: `(N, H, W, C)` or `(N, T, H, W, C)`, any dtype.
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    *extras: dense maps, boxes or keypoints: unchanged (Cutout hides pixels, no object moves).
    size: side of the square in pixels, a positive Python or NumPy integer (static); 16 by
      default, as `config.mix.cutout.size`.
    num_classes: K, for integer labels.
    partners: under `pmap` / `shard_map`, 'global' draws the squares of the whole batch (each
      image gets the square it would get on one device), 'device' draws them per device;
      either way no two devices cut the same holes.
    axis_name: the `pmap` / `shard_map` axis of the batch, if any.

  Returns:
    `(images_with_holes, labels, *extras)`.
  """
  draw = draw_cutout(rng, images, size=size, partners=partners, axis_name=axis_name)
  height, width = images.shape[-3], images.shape[-2]
  mixed = mask_mix.mix_with_mask(
      images,
      labels,
      mask_mix.box_masks(draw.box, height, width),
      draw.pairing,
      weight=0.0,
      num_classes=num_classes,
      partner_images=jnp.zeros_like(images),
  )
  return (*mixed, *extras)
