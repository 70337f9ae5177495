"""ResizeMix (Qin et al., 2020, arXiv 2012.11101): paste the whole partner, shrunk into a box.

A scale tau ~ U(0.1, 0.8) gives the box. With placement 'official' (the default, as OpenMixup's
and mmpretrain's code) the box has sides `2 * (floor(tau * dim) // 2)` around a centre drawn
uniformly from the pixel grid and is clipped by the image, as CutMix's box is, so boxes near the
border are smaller and not of the partner's aspect; with 'inside' it has sides
`max(1, floor(tau * dim))` and is placed uniformly inside the image. The partner image is resized
(bilinear, half-pixel centres) to exactly the box and pasted there, so none of the partner is cut
away. The label weight is the box's exact area over `H * W`. One box per batch. Static shapes
under `jit`: the resized partner is sampled on the full grid and only the box's pixels are kept.
"""

import dataclasses
from typing import Optional, Sequence, Tuple

import jax
import jax.numpy as jnp

from cutmix_jax.ops import arguments
from cutmix_jax.ops import boxes
from cutmix_jax.ops import detection
from cutmix_jax.ops import mask_mix
from cutmix_jax.ops import partners as partners_lib

SCALE = (0.1, 0.8)  # the paper's range of tau
PLACEMENTS = ('official', 'inside')


def _sample_grid(start, side, size: int):
  """For each output index along one axis, the two source indices and the weight of the
  second, resizing `size` source pixels onto `side` pixels that start at `start`."""
  position = (jnp.arange(size, dtype=jnp.float32) - start + 0.5) * size / side - 0.5
  position = jnp.clip(position, 0.0, size - 1.0)
  low = jnp.floor(position).astype(jnp.int32)
  return low, jnp.minimum(low + 1, size - 1), position - low


def resized_into(images, box, nearest: bool = False):
  """Each image resized onto the box `(y1, y2, x1, x2)` of an image of its size (float32; the
  pixels outside the box are clamped copies of the edge, for the caller to mask away).
  Bilinear, or with `nearest` the nearest source pixel (class maps)."""
  y1, y2, x1, x2 = box
  height, width = images.shape[-3], images.shape[-2]
  rows_low, rows_high, wy = _sample_grid(y1, y2 - y1, height)
  cols_low, cols_high, wx = _sample_grid(x1, x2 - x1, width)
  if nearest:
    wy, wx = jnp.round(wy), jnp.round(wx)
  pixels = images.astype(jnp.float32)
  row_axis, col_axis = images.ndim - 3, images.ndim - 2
  shape_y = (-1,) + (1,) * (images.ndim - row_axis - 1)
  shape_x = (-1,) + (1,) * (images.ndim - col_axis - 1)
  by_rows = (1.0 - wy.reshape(shape_y)) * jnp.take(pixels, rows_low, axis=row_axis) + wy.reshape(
      shape_y
  ) * jnp.take(pixels, rows_high, axis=row_axis)
  return (1.0 - wx.reshape(shape_x)) * jnp.take(by_rows, cols_low, axis=col_axis) + wx.reshape(
      shape_x
  ) * jnp.take(by_rows, cols_high, axis=col_axis)


def check_placement(placement: str) -> None:
  if placement not in PLACEMENTS:
    raise ValueError(f'unknown placement {placement!r}; valid: {", ".join(PLACEMENTS)}')


def sample_resize_box(
    rng, height: int, width: int, scale: Sequence[float] = SCALE, placement: str = 'official'
):
  """The box `(y1, y2, x1, x2)` of a scale tau ~ U(scale), placed as `placement` says (see the
  module docstring)."""
  key_tau, key_y, key_x = jax.random.split(rng, 3)
  tau = jax.random.uniform(key_tau, (), minval=scale[0], maxval=scale[1])
  if placement == 'official':
    half_h = jnp.floor(tau * height).astype(jnp.int32) // 2
    half_w = jnp.floor(tau * width).astype(jnp.int32) // 2
    return boxes.box_around_random_centre(key_y, half_h, half_w, height, width)
  side_h = jnp.maximum(jnp.floor(tau * height), 1).astype(jnp.int32)
  side_w = jnp.maximum(jnp.floor(tau * width), 1).astype(jnp.int32)
  y1 = jax.random.randint(key_y, (), 0, height - side_h + 1)
  x1 = jax.random.randint(key_x, (), 0, width - side_w + 1)
  return y1, y1 + side_h, x1, x1 + side_w


def check_scale(scale: Sequence[float]) -> None:
  if len(scale) != 2 or not 0.0 < scale[0] <= scale[1] <= 1.0:
    raise ValueError(f'scale must be (low, high) with 0 < low <= high <= 1; got {tuple(scale)}')


def draw_resizemix(
    rng,
    images,
    *,
    scale: Sequence[float] = SCALE,
    placement: str = 'official',
    partners: str = 'global',
    axis_name: Optional[str] = None,
) -> mask_mix.MixDraw:
  """The partners and the box of a `resizemix` call with the same arguments (`MixDraw`)."""
  height, width = arguments.check_images(images)
  check_scale(scale)
  check_placement(placement)
  key_pair, _, key_box = partners_lib.draw_keys(rng, partners, axis_name)
  pairing = partners_lib.pair_up(key_pair, images, partners, axis_name)
  box = sample_resize_box(key_box, height, width, scale, placement)
  return mask_mix.MixDraw(pairing, box=box)


@dataclasses.dataclass(frozen=True)
class ResizeMixSettings:
  """ResizeMix's own settings (`config.mix.resizemix`), as `resizemix` takes them."""

  scale: Tuple[float, ...] = SCALE
  placement: str = 'official'

  def __post_init__(self):
    object.__setattr__(self, 'scale', tuple(self.scale))
    check_scale(self.scale)
    check_placement(self.placement)


def _resized_partner(values, pairing, box):
  """The partners' `values` (images `(N, H, W, C)`, clips, or dense maps `(N, H, W[, K])`)
  resized into `box`, in their dtype: integers (uint8 pixels, class maps) rounded, class maps
  by the nearest pixel."""
  dense_map = values.ndim == 3
  partner = pairing.take(values)[..., None] if dense_map else pairing.take(values)
  integer = jnp.issubdtype(values.dtype, jnp.integer)
  resized = resized_into(partner, box, nearest=integer and dense_map)
  if integer:
    info = jnp.iinfo(values.dtype)
    resized = jnp.clip(jnp.round(resized), info.min, info.max)
  resized = resized.astype(values.dtype)
  return resized[..., 0] if dense_map else resized


def resizemix(
    rng,
    images,
    labels,
    *extras,
    scale: Sequence[float] = SCALE,
    placement: str = 'official',
    num_classes: Optional[int] = None,
    partners: str = 'global',
    axis_name: Optional[str] = None,
):
  """ResizeMix: each image gets its whole partner, resized into a random box.

  Args:
    rng: a `jax.random` key (the same on every device under `pmap`).
    images: `(N, H, W, C)` images or `(N, T, H, W, C)` clips, any dtype (integers rounded).
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    *extras: dense maps `(N, H, W[, K])`, resized with the partner into the same box (integer
      class maps by the nearest pixel, float maps bilinearly); boxes and keypoints are refused.
    scale: the range of tau, the box side as a fraction of the image side.
    placement: 'official' (a uniform centre, the box clipped by the image) or 'inside' (the
      whole box inside the image).
    num_classes: K, for integer labels.
    partners: 'global' or 'device' (see `cutmix_jax.ops.partners`).
    axis_name: the `pmap` / `shard_map` axis of the batch, if any.

  Returns:
    `(mixed_images, mixed_labels, *mixed_extras)`.
  """
  draw = draw_resizemix(
      rng, images, scale=scale, placement=placement, partners=partners, axis_name=axis_name
  )
  if any(detection.is_geometric(extra) for extra in extras):
    raise ValueError(
        'resizemix shrinks the whole partner: boxes and keypoints follow only cutmix and '
        'saliencymix; pass dense maps'
    )
  labels = arguments.soft_targets(labels, images.shape[0], num_classes)
  height, width = images.shape[-3], images.shape[-2]
  mask = mask_mix.box_masks(draw.box, height, width)
  mixed = mask_mix.mix_with_mask(
      images,
      labels,
      mask,
      draw.pairing,
      weight=boxes.box_area_ratio(draw.box, height, width),
      partner_images=_resized_partner(images, draw.pairing, draw.box),
  )
  maps = [
      mask_mix.select_pixels(
          mask_mix.broadcast_mask(mask, extra),
          _resized_partner(extra, draw.pairing, draw.box),
          extra,
      )
      for extra in extras
  ]
  return (*mixed, *maps)
