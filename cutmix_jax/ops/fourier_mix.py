"""FMix (Harris et al., 2020, arXiv 2002.12047): CutMix with a low-frequency mask of any shape.

The mask is a random image of low spatial frequency, thresholded: a complex Gaussian spectrum
scaled by `1 / f ** decay_power` (f the frequency's magnitude, at least `1 / max(H, W)`), its
inverse FFT, and the top `1 - lam` fraction of its pixels set (they come from the partner). So
the partner's share is exactly `round((1 - lam) * H * W) / (H * W)`, the label weight. One lam
and one mask per batch, as the reference code; static shapes throughout (ranks, not a sort with
a traced cut).
"""

from typing import Optional

import jax
import jax.numpy as jnp

from cutmix_jax.ops import arguments
from cutmix_jax.ops import mask_mix

DECAY_POWER = 3.0  # the paper's delta


def low_frequency_image(rng, height: int, width: int, decay_power: float = DECAY_POWER):
  """A random real `(H, W)` image whose spectrum falls off as `1 / f ** decay_power`."""
  freq_y = jnp.fft.fftfreq(height)[:, None]
  freq_x = jnp.fft.rfftfreq(width)[None, :]
  freqs = jnp.sqrt(freq_y**2 + freq_x**2)
  scale = 1.0 / jnp.maximum(freqs, 1.0 / max(height, width)) ** decay_power
  real, imaginary = jax.random.normal(rng, (2,) + freqs.shape)
  return jnp.fft.irfft2(scale * (real + 1j * imaginary), s=(height, width))


def fmix_mask(rng, lam, height: int, width: int, decay_power: float = DECAY_POWER):
  """Bool `(H, W)`: True on the `round((1 - lam) * H * W)` pixels where a low-frequency image
  is highest (the partner's pixels)."""
  values = low_frequency_image(rng, height, width, decay_power).reshape(-1)
  count = jnp.round((1.0 - jnp.asarray(lam, jnp.float32)) * height * width).astype(jnp.int32)
  ranks = jnp.argsort(jnp.argsort(-values))  # 0 for the highest pixel
  return (ranks < count).reshape(height, width)


def draw_fmix(
    rng,
    images,
    *,
    alpha=1.0,
    decay_power: float = DECAY_POWER,
    partners: str = 'global',
    axis_name: Optional[str] = None,
) -> mask_mix.MixDraw:
  """The partners, lam and mask of an `fmix` call with the same arguments (`MixDraw`)."""
  height, width = arguments.check_images(images)
  pairing, lam, key_mask = mask_mix.draw_partners_and_lam(rng, images, alpha, partners, axis_name)
  return mask_mix.MixDraw(pairing, lam, mask=fmix_mask(key_mask, lam, height, width, decay_power))


def fmix(
    rng,
    images,
    labels,
    *extras,
    alpha=1.0,
    decay_power: float = DECAY_POWER,
    num_classes: Optional[int] = None,
    partners: str = 'global',
    axis_name: Optional[str] = None,
):
  """FMix: the partner's pixels under a low-frequency mask, its label by the mask's exact mean.

  Args:
    rng: a `jax.random` key (the same on every device under `pmap`).
    images: `(N, H, W, C)` images or `(N, T, H, W, C)` clips, any dtype.
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    *extras: dense maps `(N, H, W[, K])` that follow the same pixels.
    alpha: lam ~ Beta(alpha, alpha), the share kept from each image before rounding.
    decay_power: the spectrum's decay, the paper's delta (3: blobs of a few large pieces).
    num_classes: K, for integer labels.
    partners: 'global' or 'device' (see `cutmix_jax.ops.partners`).
    axis_name: the `pmap` / `shard_map` axis of the batch, if any.

  Returns:
    `(mixed_images, mixed_labels, *mixed_extras)`.
  """
  draw = draw_fmix(
      rng, images, alpha=alpha, decay_power=decay_power, partners=partners, axis_name=axis_name
  )
  mixed = mask_mix.mix_by_mask(
      images, labels, draw.mask, draw.pairing, *extras, num_classes=num_classes
  )
  return mask_mix.poison_by_lam(mixed, draw.lam)
