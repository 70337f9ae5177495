"""SaliencyMix (Uddin et al., 2021, arXiv 2006.01791): the CutMix box placed on what is salient.

The box has CutMix's size (side `floor(dim * sqrt(1 - lam))`, lam ~ Beta(alpha, alpha)) but is
centred on the peak of a partner image's saliency map instead of a uniform point, so the patch
carries the partner's object; it is clipped to the image, and the label weight is its exact area.
As the official code, one box serves the whole batch: the one on the peak of the first image's
partner (`mode='elem'` gives each image its own lam and a box on its own partner's peak; `'pair'`
one lam per pair of partners).

The saliency map is the fine-grained centre-surround map of Montabone & Soto (2010), which the
official code takes from OpenCV (`StaticSaliencyFineGrained`), computed on device and equal to
OpenCV's, pixel for pixel, on uint8 images: OpenCV's grey image of the array as it is given (its
channels read as OpenCV reads them, B, G, R), blurred twice by a 3 x 3 Gaussian; at six
neighbourhood sizes the on (centre brighter) and off (centre darker) differences of each pixel
from the mean of its surround, from an integral image; the on and the off sums normalized and
added. Other dtypes are first brought to [0, 255] by each image's minimum and maximum (the
official code hands OpenCV normalized float tensors, which OpenCV's 8-bit routine then reads as
bytes: that is not reproduced).
"""

import dataclasses
from typing import Optional

import jax
import jax.numpy as jnp

from cutmix_jax.ops import arguments
from cutmix_jax.ops import detection
from cutmix_jax.ops import mask_mix
from cutmix_jax.ops import partners as partners_lib

NEIGHBOURHOODS = (12, 24, 48, 28, 56, 112)  # OpenCV's surround half-sides, in pixels
_GREY_WEIGHTS = (3735, 19235, 9798)  # OpenCV's 8-bit BGR -> grey, in 2**-15 units


def _as_bytes(image):
  """`(H, W, C)` pixels as int32 in [0, 255]: uint8 as it is, other dtypes stretched by the
  image's minimum and maximum and rounded."""
  if image.dtype == jnp.uint8:
    return image.astype(jnp.int32)
  values = image.astype(jnp.float32)
  low, high = jnp.min(values), jnp.max(values)
  scaled = (values - low) * (255.0 / jnp.maximum(high - low, 1e-12))
  return jnp.round(scaled).astype(jnp.int32)


def _grey(pixels):
  """OpenCV's `COLOR_BGR2GRAY` of 8-bit `(H, W, C)` pixels (one channel: itself)."""
  if pixels.shape[-1] == 1:
    return pixels[..., 0]
  blue, green, red = _GREY_WEIGHTS
  weighted = pixels[..., 0] * blue + pixels[..., 1] * green + pixels[..., 2] * red
  return (weighted + (1 << 14)) >> 15


def _blur(grey):
  """OpenCV's 3 x 3 `GaussianBlur` (sigma 0: weights 1, 2, 1) of 8-bit values, mirrored edges."""
  padded = jnp.pad(grey, 1, mode='reflect')
  rows = padded[:-2] + 2 * padded[1:-1] + padded[2:]
  return (rows[:, :-2] + 2 * rows[:, 1:-1] + rows[:, 2:] + 8) >> 4


def _floor_255_times(share):
  """`floor(255 * share)` for float32 `share` in [0, 1], exactly, as C's `(uchar)(255. * s)`
  computes it in double precision: from the float's mantissa and exponent."""
  bits = jax.lax.bitcast_convert_type(share, jnp.uint32)
  shift = 150 - (bits >> 23).astype(jnp.int32)  # share = mantissa * 2 ** -shift
  mantissa = (bits & 0x7FFFFF) | 0x800000
  product = mantissa * jnp.uint32(255)  # < 2 ** 32
  floor = product >> jnp.clip(shift, 0, 31).astype(jnp.uint32)
  return jnp.where((share > 0) & (shift < 32), floor, 0).astype(jnp.int32)


def _scaled(sums):
  """OpenCV's `(uchar)(255. * (float)(sums / (float)max))`. The divisor is kept from being seen
  as a broadcast scalar, which XLA would turn into a multiplication by its inverse, off by an
  ulp where the floor needs the exact quotient."""
  top = jnp.maximum(jnp.max(sums), 1).astype(jnp.float32)
  divisor = jax.lax.optimization_barrier(jnp.broadcast_to(top, sums.shape))
  return _floor_255_times(sums.astype(jnp.float32) / divisor)


def saliency_map(image):
  """The fine-grained saliency of one image `(H, W, C)`, int32 `(H, W)` in [0, 255]: OpenCV's
  `StaticSaliencyFineGrained` map times 255 (see the module docstring)."""
  grey = _blur(_blur(_grey(_as_bytes(image))))
  height, width = grey.shape
  integral = jnp.pad(jnp.cumsum(jnp.cumsum(grey, 0), 1), ((1, 0), (1, 0))).astype(jnp.float32)
  centre = grey.astype(jnp.float32)
  rows, cols = jnp.arange(height)[:, None], jnp.arange(width)[None, :]
  on_sum = off_sum = jnp.zeros((height, width), jnp.int32)
  for half in NEIGHBOURHOODS:
    y1, y2 = jnp.clip(rows - half + 1, 0, height), jnp.clip(rows + half + 1, 0, height)
    x1, x2 = jnp.clip(cols - half + 1, 0, width), jnp.clip(cols + half + 1, 0, width)
    total = integral[y2, x2] + integral[y1, x1] - integral[y2, x1] - integral[y1, x2]
    surround = (total - centre) / ((x2 - x1) * (y2 - y1) - 1).astype(jnp.float32)
    on_sum += jnp.maximum(centre - surround, 0.0).astype(jnp.int32)
    off_sum += jnp.maximum(surround - centre, 0.0).astype(jnp.int32)
  on, off = _scaled(on_sum), _scaled(off_sum)
  top = jnp.maximum(jnp.maximum(jnp.max(on), jnp.max(off)), 1)
  return ((255 * (on + off)) // top) & 255  # OpenCV's 8-bit store wraps, as it does


def peak(saliency):
  """`(row, column)` of the highest value of a map `(H, W)` (the first in row-major order)."""
  index = jnp.argmax(saliency.reshape(-1))
  return index // saliency.shape[1], index % saliency.shape[1]


def saliency_boxes(partner_images, lam):
  """CutMix's box for `lam` (a scalar, or one per image) centred on the saliency peak of each
  image of `partner_images` `(n, H, W, C)` (clips: their first frame), clipped to the image;
  `(y1, y2, x1, x2)` of `(n,)` int32."""
  height, width = partner_images.shape[-3], partner_images.shape[-2]
  cut = jnp.sqrt(1.0 - jnp.asarray(lam, jnp.float32))
  half_h = jnp.floor(height * cut).astype(jnp.int32) // 2
  half_w = jnp.floor(width * cut).astype(jnp.int32) // 2
  frames = partner_images if partner_images.ndim == 4 else partner_images[:, 0]
  rows, cols = jax.vmap(lambda image: peak(saliency_map(image)))(frames)
  y1, y2 = jnp.clip(rows - half_h, 0, height), jnp.clip(rows + half_h, 0, height)
  x1, x2 = jnp.clip(cols - half_w, 0, width), jnp.clip(cols + half_w, 0, width)
  return tuple(edge.astype(jnp.int32) for edge in (y1, y2, x1, x2))


@dataclasses.dataclass(frozen=True)
class SaliencyMixSettings:
  """SaliencyMix's own settings (`config.mix.saliencymix`), as `saliencymix` takes them."""

  mode: str = 'batch'

  def __post_init__(self):
    partners_lib.check_mode(self.mode)


def draw_saliencymix(
    rng,
    images,
    *,
    alpha=1.0,
    mode: str = 'batch',
    partners: str = 'global',
    axis_name: Optional[str] = None,
) -> mask_mix.MixDraw:
  """The partners, lam and box(es) of a `saliencymix` call with the same arguments
  (`MixDraw`); the images are needed, since the box sits on a partner's saliency peak."""
  arguments.check_images(images)
  pairing, lam, _ = mask_mix.draw_partners_and_lam(rng, images, alpha, partners, axis_name, mode)
  if mode != 'batch':
    box = saliency_boxes(pairing.take(images), pairing.local(lam))
  else:
    box = tuple(edge[0] for edge in saliency_boxes(pairing.first_partner(images)[None], lam))
  return mask_mix.MixDraw(pairing, lam, box=box)


def saliencymix(
    rng,
    images,
    labels,
    *extras,
    alpha=1.0,
    mode: str = 'batch',
    num_classes: Optional[int] = None,
    partners: str = 'global',
    axis_name: Optional[str] = None,
    min_visible: float = detection.MIN_VISIBLE,
):
  """SaliencyMix: CutMix whose box sits on a partner's most salient point.

  Args:
    rng: a `jax.random` key (the same on every device under `pmap`).
    images: `(N, H, W, C)` images or `(N, T, H, W, C)` clips (the first frame's saliency).
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    *extras: dense maps, `detection.Boxes` or `detection.Keypoints`, as `cutmix` takes them.
    alpha: lam ~ Beta(alpha, alpha).
    mode: 'batch', the official code: one lam and one box for the batch, on the peak of the
      first image's partner; 'elem': a lam and a box per image, on its own partner's peak;
      'pair': one lam per pair of partners, each box on the own partner's peak.
    num_classes: K, for integer labels.
    partners: 'global' or 'device' (see `cutmix_jax.ops.partners`).
    axis_name: the `pmap` / `shard_map` axis of the batch, if any.
    min_visible: boxes: the share of a box's area that must stay visible for it to be kept.

  Returns:
    `(mixed_images, mixed_labels, *mixed_extras)`.
  """
  draw = draw_saliencymix(
      rng, images, alpha=alpha, mode=mode, partners=partners, axis_name=axis_name
  )
  labels = arguments.soft_targets(labels, images.shape[0], num_classes)
  mixed = mask_mix.paste_rectangle(
      images, labels, draw.box, draw.pairing, extras, min_visible=min_visible
  )
  return mask_mix.poison_by_lam(mixed, draw.lam, alpha)
