"""Random erasing (Zhong et al., 2020) as DeiT trains with it: timm's `RandomErasing` in 'pixel'
mode, on device.

With probability `prob` an image gets one rectangle of its normalized input replaced by
standard-normal noise, drawn per pixel and channel. The rectangle's area is uniform in
`[0.02, 1/3]` of the image, its aspect ratio log-uniform in `[0.3, 1/0.3]`; of 10 such draws the
first that fits strictly inside the image is taken (timm's `w < W and h < H`), and an image
whose 10 draws all fail is left whole, as timm leaves it. It runs after normalization, as in
timm, so the noise has the statistics of a normalized pixel.
"""

import math

import jax
import jax.numpy as jnp

MIN_AREA, MAX_AREA = 0.02, 1 / 3
MIN_ASPECT = 0.3
ATTEMPTS = 10


def check_prob(prob) -> None:
  """Raises ValueError unless `prob` is in [0, 1]."""
  if not 0.0 <= prob <= 1.0:
    raise ValueError(f'random_erasing must be a probability in [0, 1]; got {prob!r}')


def erasing_window(rng, height: int, width: int):
  """One image's rectangle `(top, left, h, w)` (int32 scalars) and whether one fitted."""
  area_key, aspect_key, top_key, left_key = jax.random.split(rng, 4)
  area = (
      height * width * jax.random.uniform(area_key, (ATTEMPTS,), minval=MIN_AREA, maxval=MAX_AREA)
  )
  log_aspect = jax.random.uniform(
      aspect_key, (ATTEMPTS,), minval=math.log(MIN_ASPECT), maxval=-math.log(MIN_ASPECT)
  )
  aspect = jnp.exp(log_aspect)
  heights = jnp.round(jnp.sqrt(area * aspect)).astype(jnp.int32)
  widths = jnp.round(jnp.sqrt(area / aspect)).astype(jnp.int32)
  fits = (widths < width) & (heights < height)
  first = jnp.argmax(fits)
  h, w = heights[first], widths[first]
  top = jax.random.randint(top_key, (), 0, height - h + 1)
  left = jax.random.randint(left_key, (), 0, width - w + 1)
  return (top, left, h, w), fits.any()


def random_erasing(rng, inputs, prob: float) -> jax.Array:
  """Erases one rectangle of each image with probability `prob`.

  Args:
    rng: a `jax.random` key; every image draws its own coin, rectangle and noise.
    inputs: normalized float `(B, H, W, C)`.
    prob: probability that an image is erased (static); 0 returns `inputs` unchanged.

  Returns:
    `(B, H, W, C)` of the dtype of `inputs`.
  """
  check_prob(prob)
  if prob == 0:
    return inputs
  batch, height, width, _ = inputs.shape
  coin_key, window_key, noise_key = jax.random.split(rng, 3)
  erase = jax.random.bernoulli(coin_key, prob, (batch,))
  (top, left, h, w), fitted = jax.vmap(lambda key: erasing_window(key, height, width))(
      jax.random.split(window_key, batch)
  )
  rows = jnp.arange(height)[None, :, None]
  cols = jnp.arange(width)[None, None, :]
  inside = (
      (rows >= top[:, None, None])
      & (rows < (top + h)[:, None, None])
      & (cols >= left[:, None, None])
      & (cols < (left + w)[:, None, None])
  )
  chosen = inside & (erase & fitted)[:, None, None]
  noise = jax.random.normal(noise_key, inputs.shape, inputs.dtype)
  return jnp.where(chosen[..., None], noise, inputs)
