"""FMix (Harris et al., 2020, arXiv 2002.12047): CutMix with a low-frequency mask of any shape.

The mask is a random image of low spatial frequency, thresholded by rank. Its spectrum is
scaled by `1 / f ** decay_power` (f the frequency's magnitude, at least `1 / max(H, W)`):

- 'official' (the default) is the spectrum of the official code (ecs-vlc/FMix,
  `make_low_freq_image`): Gaussian parameters of shape `(H, W // 2 + 1 (+1 if W is odd), 2)`,
  of which the code keeps the first two rows, as the real and the imaginary part of a
  `(W // 2 + 1, 2)` array that the inverse real FFT then crops and zero-pads to the image. Its
  masks are point-symmetric and stretched along one axis (their mean gradient is about 6 times
  larger across columns than across rows): that is the method as published and trained.
- 'complex' is the spectrum the paper describes: independent complex Gaussian coefficients over
  the whole half-spectrum, which gives isotropic blobs without the symmetry.

As the official code, the image keeps its own pixels on the top `lam` share of the mask's pixels
(`ceil` or `floor` of `lam * H * W`, by a fair coin) and takes the partner's elsewhere; with
`max_soft` > 0 the edge is softened over `2 * max_soft` of the pixels (a float mask), and with
`reformulate` lam ~ Beta(alpha + 1, alpha). The label weight is the partner's exact share of the
mask. One lam and one mask per batch; static shapes throughout (ranks, not a sort with a traced
cut).
"""

import dataclasses
from typing import Optional

import jax
import jax.numpy as jnp

from cutmix_jax.ops import arguments
from cutmix_jax.ops import mask_mix

DECAY_POWER = 3.0  # the paper's delta
SPECTRA = ('official', 'complex')


def check_settings(spectrum: str, max_soft: float) -> None:
  if spectrum not in SPECTRA:
    raise ValueError(f'unknown FMix spectrum {spectrum!r}; valid: {", ".join(SPECTRA)}')
  arguments.check_range('max_soft', max_soft, 0.0, 0.5)


@dataclasses.dataclass(frozen=True)
class FMixSettings:
  """FMix's own settings (`config.mix.fmix`), as `fmix` takes them."""

  decay_power: float = DECAY_POWER
  spectrum: str = 'official'
  max_soft: float = 0.0
  reformulate: bool = False

  def __post_init__(self):
    check_settings(self.spectrum, self.max_soft)


def _frequencies(height: int, width: int, official: bool):
  """`|f|` over the half-spectrum: the official code keeps one extra column for an odd width."""
  columns = width // 2 + (2 if official and width % 2 else 1)
  freq_y = jnp.fft.fftfreq(height)[:, None]
  freq_x = jnp.fft.fftfreq(width)[:columns] if official else jnp.fft.rfftfreq(width)
  return jnp.sqrt(freq_y**2 + freq_x[None, :] ** 2)


def official_spectrum_image(parameters, height: int, width: int, decay_power: float):
  """The official code's low-frequency image from its Gaussian `parameters`
  `(H, W // 2 + 1 (+1 if W is odd), 2)`: rows 0 and 1 of the scaled parameters as the real and
  imaginary part, through the inverse real FFT at the image's size."""
  freqs = _frequencies(height, width, official=True)
  scale = 1.0 / jnp.maximum(freqs, 1.0 / max(height, width)) ** decay_power
  scaled = parameters * scale[..., None]
  return jnp.fft.irfftn(scaled[0] + 1j * scaled[1], s=(height, width), axes=(0, 1))


def low_frequency_image(
    rng, height: int, width: int, decay_power: float = DECAY_POWER, spectrum: str = 'official'
):
  """A random real `(H, W)` image whose spectrum falls off as `1 / f ** decay_power`."""
  official = spectrum == 'official'
  freqs = _frequencies(height, width, official)
  if official:
    parameters = jax.random.normal(rng, freqs.shape + (2,))
    return official_spectrum_image(parameters, height, width, decay_power)
  scale = 1.0 / jnp.maximum(freqs, 1.0 / max(height, width)) ** decay_power
  real, imaginary = jax.random.normal(rng, (2,) + freqs.shape)
  return jnp.fft.irfft2(scale * (real + 1j * imaginary), s=(height, width))


def official_partner_share(ranks, num, lam, size: int, max_soft: float):
  """The partner's weight per pixel, the complement of the official binarised mask: the image
  keeps the `num` highest ranks (0: the highest pixel); a soft edge of
  `2 * int(size * min(max_soft, lam, 1 - lam))` pixels ramps linearly from own to partner."""
  lam = jnp.asarray(lam, jnp.float32)
  if not max_soft:
    return ranks >= num
  soft = jnp.floor(size * jnp.minimum(max_soft, jnp.minimum(lam, 1.0 - lam))).astype(jnp.int32)
  low, high = num - soft, num + soft
  ramp = (ranks - low).astype(jnp.float32) / jnp.maximum(high - low - 1, 1).astype(jnp.float32)
  own = jnp.where(ranks < low, 1.0, jnp.where(ranks >= high, 0.0, 1.0 - ramp))
  return 1.0 - own


def fmix_mask(
    rng,
    lam,
    height: int,
    width: int,
    decay_power: float = DECAY_POWER,
    spectrum: str = 'official',
    max_soft: float = 0.0,
):
  """The partner's pixels `(H, W)`: bool (True: from the partner), or float with `max_soft`.

  'official': the image keeps the top `lam` share of a low-frequency image (see the module
  docstring); 'complex': the partner takes its `round((1 - lam) * H * W)` highest pixels.
  """
  check_settings(spectrum, max_soft)
  official = spectrum == 'official'
  key_image, key_round = jax.random.split(rng) if official else (rng, None)
  values = low_frequency_image(key_image, height, width, decay_power, spectrum).reshape(-1)
  ranks = jnp.argsort(jnp.argsort(-values))  # 0 for the highest pixel
  if official:
    size, lam = height * width, jnp.asarray(lam, jnp.float32)
    up = jax.random.bernoulli(key_round)  # the official code's coin: ceil or floor
    num = jnp.where(up, jnp.ceil(lam * size), jnp.floor(lam * size)).astype(jnp.int32)
    return official_partner_share(ranks, num, lam, size, max_soft).reshape(height, width)
  count = jnp.round((1.0 - jnp.asarray(lam, jnp.float32)) * height * width).astype(jnp.int32)
  return (ranks < count).reshape(height, width)


def draw_fmix(
    rng,
    images,
    *,
    alpha=1.0,
    decay_power: float = DECAY_POWER,
    spectrum: str = 'official',
    max_soft: float = 0.0,
    reformulate: bool = False,
    partners: str = 'global',
    axis_name: Optional[str] = None,
) -> mask_mix.MixDraw:
  """The partners, lam and mask of an `fmix` call with the same arguments (`MixDraw`)."""
  height, width = arguments.check_images(images)
  check_settings(spectrum, max_soft)
  pairing, lam, key_mask = mask_mix.draw_partners_and_lam(
      rng, images, alpha, partners, axis_name, reformulate=reformulate
  )
  mask = fmix_mask(key_mask, lam, height, width, decay_power, spectrum, max_soft)
  return mask_mix.MixDraw(pairing, lam, mask=mask)


def fmix(
    rng,
    images,
    labels,
    *extras,
    alpha=1.0,
    decay_power: float = DECAY_POWER,
    spectrum: str = 'official',
    max_soft: float = 0.0,
    reformulate: bool = False,
    num_classes: Optional[int] = None,
    partners: str = 'global',
    axis_name: Optional[str] = None,
):
  """FMix: the partner's pixels under a low-frequency mask, its label by the mask's exact mean.

  Args:
    rng: a `jax.random` key (the same on every device under `pmap`).
    images: `(N, H, W, C)` images or `(N, T, H, W, C)` clips, any dtype.
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    *extras: dense maps `(N, H, W[, K])` that follow the same pixels (with `max_soft`, float
      ones only: a soft edge blends).
    alpha: lam ~ Beta(alpha, alpha), the share each image keeps.
    decay_power: the spectrum's decay, the paper's delta (3: blobs of a few large pieces).
    spectrum: 'official' (the official code's, the default) or 'complex' (the paper's
      description); see the module docstring.
    max_soft: the official code's softening of the mask's edge, in [0, 0.5]; 0: a hard mask.
    reformulate: lam ~ Beta(alpha + 1, alpha), the official code's `reformulate`.
    num_classes: K, for integer labels.
    partners: 'global' or 'device' (see `cutmix_jax.ops.partners`).
    axis_name: the `pmap` / `shard_map` axis of the batch, if any.

  Returns:
    `(mixed_images, mixed_labels, *mixed_extras)`.
  """
  draw = draw_fmix(
      rng,
      images,
      alpha=alpha,
      decay_power=decay_power,
      spectrum=spectrum,
      max_soft=max_soft,
      reformulate=reformulate,
      partners=partners,
      axis_name=axis_name,
  )
  mixed = mask_mix.mix_with_mask(
      images, labels, draw.mask, draw.pairing, *extras, num_classes=num_classes
  )
  return mask_mix.poison_by_lam(mixed, draw.lam, alpha)
