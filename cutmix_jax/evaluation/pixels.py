"""Eval images in [0, 1] pixel units, where perturbations (FGSM, noise, corruptions) are defined.

Every dataset hands the eval step uint8 images; `to_unit` gives `[0, 1]` pixels, and
`data.augment.normalize(unit, mean, std, pixel_max=1.0)` the input the model was trained on.
"""

import jax
import jax.numpy as jnp


def to_unit(images) -> jax.Array:
  """uint8 images `(N, H, W, C)` as float32 pixels in [0, 1]."""
  return images.astype(jnp.float32) / 255.0
