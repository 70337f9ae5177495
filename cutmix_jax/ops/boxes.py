"""CutMix and Cutout boxes: sampling (the official `rand_bbox`, timm's min-max), masks, areas.

A box is `(y1, y2, x1, x2)` of int32 scalars (or `(N,)` arrays, one box per example) covering
rows `y1 <= y < y2` and columns `x1 <= x < x2`. Everything is shape-static and branch-free on
traced values.
"""

from typing import Optional, Sequence, Tuple

import jax
import jax.numpy as jnp

from cutmix_jax.ops import arguments

Box = Tuple[jax.Array, jax.Array, jax.Array, jax.Array]


def box_around_random_centre(rng, half_height, half_width, height: int, width: int) -> Box:
  """A box with the given half sides around a centre drawn uniformly from the pixel grid.

  Edges are `clip(centre -/+ half, 0, dim)`, so boxes near the border are cut off by the image.
  """
  key_y, key_x = jax.random.split(rng)
  centre_y = jax.random.randint(key_y, (), 0, height)
  centre_x = jax.random.randint(key_x, (), 0, width)
  y1 = jnp.clip(centre_y - half_height, 0, height)
  y2 = jnp.clip(centre_y + half_height, 0, height)
  x1 = jnp.clip(centre_x - half_width, 0, width)
  x2 = jnp.clip(centre_x + half_width, 0, width)
  return tuple(v.astype(jnp.int32) for v in (y1, y2, x1, x2))


def sample_box(rng: jax.Array, lam, height: int, width: int) -> Box:
  """Samples the CutMix box exactly as the official code's `rand_bbox`.

  `cut = sqrt(1 - lam)`; the sides are `floor(H * cut)` and `floor(W * cut)`; the centre is
  uniform over the integer pixel grid; the corners are clipped to the image.

  Args:
    rng: a `jax.random` key.
    lam: scalar in [0, 1] (Python, NumPy or traced), the share of the image kept before
      clipping. A concrete value outside [0, 1] raises ValueError.
    height: image height H (static).
    width: image width W (static).

  Returns:
    `(y1, y2, x1, x2)` as int32 scalars.
  """
  arguments.check_range('lam', lam, 0.0, 1.0)
  cut = jnp.sqrt(1.0 - jnp.asarray(lam, jnp.float32))
  side_h = jnp.floor(height * cut).astype(jnp.int32)
  side_w = jnp.floor(width * cut).astype(jnp.int32)
  return box_around_random_centre(rng, side_h // 2, side_w // 2, height, width)


def check_minmax(minmax: Optional[Sequence[float]]) -> None:
  """Raises ValueError unless `minmax` is empty / None or `(low, high)` with 0 < low < high <= 1."""
  if minmax is None or len(minmax) == 0:
    return
  for side in (minmax if isinstance(minmax, (tuple, list)) else [minmax]):
    arguments.check_static('minmax', side)  # it sets the box sides' static bounds
  if len(minmax) != 2 or not 0.0 < minmax[0] < minmax[1] <= 1.0:
    raise ValueError(
        f'cutmix_minmax must be (low, high) with 0 < low < high <= 1 (box sides as fractions of '
        f'the image); got {tuple(minmax)}'
    )


def sample_box_minmax(rng: jax.Array, minmax: Sequence[float], height: int, width: int) -> Box:
  """timm's `rand_bbox_minmax`: sides drawn independently in `[int(dim * low), int(dim * high))`,
  the box placed uniformly so that it lies wholly inside the image (no clipping)."""
  key_h, key_w, key_y, key_x = jax.random.split(rng, 4)
  cut_h = jax.random.randint(key_h, (), int(height * minmax[0]), int(height * minmax[1]))
  cut_w = jax.random.randint(key_w, (), int(width * minmax[0]), int(width * minmax[1]))
  y1 = jax.random.randint(key_y, (), 0, height - cut_h)
  x1 = jax.random.randint(key_x, (), 0, width - cut_w)
  return tuple(v.astype(jnp.int32) for v in (y1, y1 + cut_h, x1, x1 + cut_w))


def box_mask(box: Box, height: int, width: int) -> jax.Array:
  """The boolean `(H, W)` mask that is True inside `box = (y1, y2, x1, x2)`."""
  y1, y2, x1, x2 = box
  rows = jnp.arange(height)[:, None]
  cols = jnp.arange(width)[None, :]
  return (rows >= y1) & (rows < y2) & (cols >= x1) & (cols < x2)


def box_area_ratio(box: Box, height: int, width: int) -> jax.Array:
  """The exact area of `box` divided by `H * W`, as float32."""
  y1, y2, x1, x2 = box
  return ((y2 - y1) * (x2 - x1)).astype(jnp.float32) / (height * width)
