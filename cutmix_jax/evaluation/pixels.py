"""Eval images in [0, 1] pixel units, where perturbations (FGSM, noise, corruptions) are defined.

In-memory datasets hand the eval step raw uint8 images; streamed ones hand it normalized floats.
Either way `to_unit` gives `[0, 1]` pixels and `normalize` the input the model was trained on.
"""

from typing import Sequence

import jax
import jax.numpy as jnp


def to_unit(images, mean: Sequence[float], std: Sequence[float]) -> jax.Array:
  """`(N, H, W, C)` eval images as float32 pixels in [0, 1]."""
  if images.dtype == jnp.uint8:
    return images.astype(jnp.float32) / 255.0
  unit = images.astype(jnp.float32) * jnp.asarray(std) + jnp.asarray(mean)
  return jnp.clip(unit, 0.0, 1.0)


def normalize(unit, mean: Sequence[float], std: Sequence[float]) -> jax.Array:
  """`[0, 1]` pixels as the model's input: `(x - mean) / std` per channel."""
  return (unit - jnp.asarray(mean, jnp.float32)) / jnp.asarray(std, jnp.float32)
