"""Eval images in [0, 1] pixel units, where perturbations (FGSM, noise, corruptions) are defined.

Every dataset hands the eval step uint8 images; `to_unit` gives `[0, 1]` pixels and `normalize`
the input the model was trained on.
"""

from typing import Sequence

import jax
import jax.numpy as jnp


def to_unit(images) -> jax.Array:
  """uint8 images `(N, H, W, C)` as float32 pixels in [0, 1]."""
  return images.astype(jnp.float32) / 255.0


def normalize(unit, mean: Sequence[float], std: Sequence[float]) -> jax.Array:
  """`[0, 1]` pixels as the model's input: `(x - mean) / std` per channel."""
  return (unit - jnp.asarray(mean, jnp.float32)) / jnp.asarray(std, jnp.float32)
