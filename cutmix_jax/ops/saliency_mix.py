"""SaliencyMix (Uddin et al., 2021, arXiv 2006.01791): the CutMix box placed on what is salient.

The box has CutMix's size (side `floor(dim * sqrt(1 - lam))`, lam ~ Beta(alpha, alpha)) but is
centred on the peak of the partner image's saliency map instead of a uniform point, so the patch
carries the partner's object; it is clipped to the image, and the label weight is its exact area.
The saliency map is the spectral residual of Hou & Zhang (2007), the one the reference code takes
from OpenCV, computed on device: the log amplitude spectrum of the grey image (at most 64 px a
side) minus its 3 x 3 local mean, back through the inverse FFT with the original phase, squared,
and smoothed by a Gaussian (sigma 2.5 px). One lam per batch; each image's box follows its own
partner's peak.
"""

from typing import Optional

import jax
import jax.numpy as jnp

from cutmix_jax.ops import arguments
from cutmix_jax.ops import detection
from cutmix_jax.ops import mask_mix

WORKING_SIDE = 64  # saliency is computed on images of at most this side (as OpenCV does)
_BLUR_SIGMA = 2.5
_BLUR_RADIUS = 4


def _box_filter(values, radius: int = 1):
  """Mean over a `(2r + 1)^2` window with edge padding, `(H, W)`."""
  padded = jnp.pad(values, radius, mode='edge')
  height, width = values.shape
  size = 2 * radius + 1
  total = sum(padded[i : i + height, j : j + width] for i in range(size) for j in range(size))
  return total / size**2


def _gaussian_blur(values):
  taps = jnp.arange(-_BLUR_RADIUS, _BLUR_RADIUS + 1, dtype=jnp.float32)
  kernel = jnp.exp(-0.5 * (taps / _BLUR_SIGMA) ** 2)
  kernel = kernel / kernel.sum()
  padded = jnp.pad(values, _BLUR_RADIUS, mode='edge')
  height, width = values.shape
  rows = sum(kernel[i] * padded[i : i + height] for i in range(len(kernel)))
  return sum(kernel[i] * rows[:, i : i + width] for i in range(len(kernel)))


def saliency_map(image):
  """The spectral-residual saliency of one image `(H, W, C)` (any dtype), float32 `(H, W)`."""
  height, width = image.shape[:2]
  grey = jnp.mean(image.astype(jnp.float32), axis=-1)
  side = (min(height, WORKING_SIDE), min(width, WORKING_SIDE))
  small = jax.image.resize(grey, side, method='linear') if side != (height, width) else grey
  spectrum = jnp.fft.fft2(small)
  log_amplitude = jnp.log(jnp.abs(spectrum) + 1e-8)
  residual = log_amplitude - _box_filter(log_amplitude)
  saliency = jnp.abs(jnp.fft.ifft2(jnp.exp(residual + 1j * jnp.angle(spectrum)))) ** 2
  saliency = _gaussian_blur(saliency.astype(jnp.float32))
  if side != (height, width):
    saliency = jax.image.resize(saliency, (height, width), method='linear')
  return saliency


def peak(saliency):
  """`(row, column)` of the highest value of a map `(H, W)` (the first in row-major order)."""
  index = jnp.argmax(saliency.reshape(-1))
  return index // saliency.shape[1], index % saliency.shape[1]


def saliency_boxes(partner_images, lam):
  """One box per image: CutMix's size for `lam`, centred on the saliency peak of its partner
  `(N, H, W, C)`, clipped to the image; `(y1, y2, x1, x2)` of `(N,)` int32."""
  height, width = partner_images.shape[-3], partner_images.shape[-2]
  cut = jnp.sqrt(1.0 - jnp.asarray(lam, jnp.float32))
  half_h = jnp.floor(height * cut).astype(jnp.int32) // 2
  half_w = jnp.floor(width * cut).astype(jnp.int32) // 2
  frames = partner_images if partner_images.ndim == 4 else partner_images[:, 0]
  rows, cols = jax.vmap(lambda image: peak(saliency_map(image)))(frames)
  y1, y2 = jnp.clip(rows - half_h, 0, height), jnp.clip(rows + half_h, 0, height)
  x1, x2 = jnp.clip(cols - half_w, 0, width), jnp.clip(cols + half_w, 0, width)
  return tuple(edge.astype(jnp.int32) for edge in (y1, y2, x1, x2))


def draw_saliencymix(
    rng, images, *, alpha=1.0, partners: str = 'global', axis_name: Optional[str] = None
) -> mask_mix.MixDraw:
  """The partners, lam and boxes of a `saliencymix` call with the same arguments (`MixDraw`);
  the images are needed, since the boxes sit on their partners' saliency peaks."""
  arguments.check_images(images)
  pairing, lam, _ = mask_mix.draw_partners_and_lam(rng, images, alpha, partners, axis_name)
  return mask_mix.MixDraw(pairing, lam, box=saliency_boxes(pairing.take(images), lam))


def saliencymix(
    rng,
    images,
    labels,
    *extras,
    alpha=1.0,
    num_classes: Optional[int] = None,
    partners: str = 'global',
    axis_name: Optional[str] = None,
    min_visible: float = detection.MIN_VISIBLE,
):
  """SaliencyMix: CutMix whose box sits on the partner's most salient point.

  Args:
    rng: a `jax.random` key (the same on every device under `pmap`).
    images: `(N, H, W, C)` images or `(N, T, H, W, C)` clips (the first frame's saliency).
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    *extras: dense maps, `detection.Boxes` or `detection.Keypoints`, as `cutmix` takes them.
    alpha: lam ~ Beta(alpha, alpha).
    num_classes: K, for integer labels.
    partners: 'global' or 'device' (see `cutmix_jax.ops.partners`).
    axis_name: the `pmap` / `shard_map` axis of the batch, if any.
    min_visible: boxes: the share of a box's area that must stay visible for it to be kept.

  Returns:
    `(mixed_images, mixed_labels, *mixed_extras)`.
  """
  draw = draw_saliencymix(rng, images, alpha=alpha, partners=partners, axis_name=axis_name)
  labels = arguments.soft_targets(labels, images.shape[0], num_classes)
  mixed = mask_mix.paste_rectangle(
      images, labels, draw.box, draw.pairing, extras, min_visible=min_visible
  )
  return mask_mix.poison_by_lam(mixed, draw.lam)
