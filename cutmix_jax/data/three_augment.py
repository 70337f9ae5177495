"""DeiT III's 3-Augment (Touvron et al., 2022) on device: one of grayscale, solarization and
Gaussian blur per image, then colour jitter.

Each image draws one of the three uniformly (torchvision's `RandomChoice`): PIL's grayscale
(`convert('L')` as RGB), `ImageOps.solarize` at 128, or PIL's `GaussianBlur` of a radius uniform in
[0.1, 2] (PIL approximates a Gaussian by three box blurs per axis; this is its integer
arithmetic, so the pixels are PIL's). Then torchvision's `ColorJitter(0.3, 0.3, 0.3)` on a PIL
image: brightness, contrast and saturation factors uniform in [0.7, 1.3], applied in a random
order, each one of PIL's `ImageEnhance` blends (`rand_augment.blend`). Pure and jittable; uint8
`(B, H, W, 3)` in and out.
"""

import functools

import jax
import jax.numpy as jnp

from cutmix_jax.data import rand_augment

BLUR_RADIUS = (0.1, 2.0)  # DeiT III's GaussianBlur radius_min, radius_max
SOLARIZE_THRESHOLD = 128  # ImageOps.solarize's default
COLOR_JITTER = 0.3  # DeiT III's --color-jitter
_PASSES = 3  # PIL's GaussianBlur: three box blurs per axis
# The blends of ColorJitter's brightness, contrast and saturation, in torchvision's order.
_JITTER_DEGENERATES = (rand_augment.black, rand_augment.mean_gray, rand_augment.grayscale)


def box_radius(radius):
  """PIL's fractional box radius whose three passes approximate a Gaussian of sigma `radius`
  (float32, as PIL's C computes it)."""
  radius = jnp.asarray(radius, jnp.float32)
  sigma2 = radius * radius / _PASSES
  length = jnp.sqrt(12.0 * sigma2 + 1.0)
  whole = jnp.floor((length - 1.0) / 2.0)
  part = (2 * whole + 1) * (whole * (whole + 1) - 3 * sigma2)
  return whole + part / (6 * (sigma2 - (whole + 1) * (whole + 1)))


def _box_pass(lines, box: jax.Array, reach: int) -> jax.Array:
  """One of PIL's box blurs along the last axis of uint8 `lines`, edges replicated.

  The integer part r of `box` weighs the 2r + 1 nearest pixels by `ww = 2^24 / (2 box + 1)`,
  the two next ones by what is left (`fw`); the sum, rounded, is shifted back by 24 bits:
  PIL's fixed point in uint32, exact. `reach` (static) bounds r + 1.
  """
  whole = box.astype(jnp.int32)
  ww = (jnp.float32(1 << 24) / (box * 2 + 1)).astype(jnp.uint32)
  fw = (jnp.uint32(1 << 24) - (whole * 2 + 1).astype(jnp.uint32) * ww) // 2
  size = lines.shape[-1]
  total = jnp.zeros(lines.shape, jnp.uint32) + jnp.uint32(1 << 23)
  for offset in range(-reach, reach + 1):
    index = jnp.clip(jnp.arange(size) + offset, 0, size - 1)
    weight = jnp.where(abs(offset) <= whole, ww, jnp.where(abs(offset) == whole + 1, fw, 0))
    total = total + lines[..., index].astype(jnp.uint32) * weight.astype(jnp.uint32)
  return (total >> 24).astype(jnp.uint8)


def gaussian_blur(image, radius, max_radius: float = BLUR_RADIUS[1]) -> jax.Array:
  """PIL's `ImageFilter.GaussianBlur(radius)` of one uint8 image `(H, W, 3)`; `radius` may be
  traced, up to `max_radius` (static)."""
  box = box_radius(radius)
  with jax.ensure_compile_time_eval():
    reach = int(box_radius(max_radius)) + 1
  rows = jnp.moveaxis(image, -1, 0)  # (3, H, W): blur along W, then along H
  for _ in range(_PASSES):
    rows = _box_pass(rows, box, reach)
  columns = jnp.swapaxes(rows, 1, 2)
  for _ in range(_PASSES):
    columns = _box_pass(columns, box, reach)
  return jnp.moveaxis(jnp.swapaxes(columns, 1, 2), 0, -1)


def solarize(image) -> jax.Array:
  """`ImageOps.solarize(image)`: the values at or above 128 inverted."""
  return rand_augment.solarize_lut(SOLARIZE_THRESHOLD)[image.astype(jnp.int32)].astype(jnp.uint8)


def color_jitter(rng, image, strength: float = COLOR_JITTER) -> jax.Array:
  """torchvision's `ColorJitter(strength, strength, strength)` of one uint8 image `(H, W, 3)`."""
  order_key, factor_key = jax.random.split(rng)
  order = jnp.argsort(jax.random.uniform(order_key, (3,)))
  factors = jax.random.uniform(factor_key, (3,), minval=1 - strength, maxval=1 + strength)
  return jittered(image, order, factors)


def jittered(image, order, factors) -> jax.Array:
  """One uint8 image `(H, W, 3)` through brightness (0), contrast (1) and saturation (2) in
  `order` (int `(3,)`), with `factors` `(3,)` by kind: PIL's `ImageEnhance` each."""
  for which in order:  # a traced index: pick the degenerate, then one blend
    degenerates = [degenerate(image) for degenerate in _JITTER_DEGENERATES]
    chosen = jnp.select([which == kind for kind in range(3)], degenerates)
    image = rand_augment.blend(chosen, image, factors[which])
  return image


def _three_augment_one(rng, image, color_strength: float) -> jax.Array:
  choice_key, radius_key, jitter_key = jax.random.split(rng, 3)
  radius = jax.random.uniform(radius_key, minval=BLUR_RADIUS[0], maxval=BLUR_RADIUS[1])
  choices = [rand_augment.grayscale, solarize, functools.partial(gaussian_blur, radius=radius)]
  image = jax.lax.switch(jax.random.randint(choice_key, (), 0, 3), choices, image)
  return color_jitter(jitter_key, image, color_strength) if color_strength else image


def three_augment(rng, images, color_strength: float = COLOR_JITTER) -> jax.Array:
  """3-Augment of uint8 images `(B, H, W, 3)`, each with its own draws from `rng`.

  Args:
    rng: a `jax.random` key.
    images: uint8 `(B, H, W, 3)`.
    color_strength: ColorJitter's brightness, contrast and saturation strength (static); 0:
      none (DeiT III's `--color-jitter 0`).

  Returns:
    uint8 `(B, H, W, 3)`.
  """
  keys = jax.random.split(rng, images.shape[0])
  return jax.vmap(lambda key, image: _three_augment_one(key, image, color_strength))(keys, images)
