"""On-device preprocessing: pure jittable functions a pmapped step applies per device.

In-memory datasets arrive as raw uint8 `(B, H, W, C)`; their train preprocessing is the paper's
CIFAR augmentation (zero-padded random crop and horizontal flip, independently per image) and
then normalization; eval is normalization only. Images streamed through tf.data are already
augmented and normalized on the host, so their functions only cast to float32. All four share
the signatures `train(rng, images)` and `eval(images)` once the constants are bound with
`functools.partial`.
"""
from typing import Sequence

import jax
import jax.numpy as jnp


def normalize(images, mean: Sequence[float], std: Sequence[float]) -> jax.Array:
  """`(images / 255 - mean) / std` per channel, float32; mean and std on the [0, 1] scale."""
  mean = jnp.asarray(mean, jnp.float32) * 255.0
  std = jnp.asarray(std, jnp.float32) * 255.0
  return (images.astype(jnp.float32) - mean) / std


def pad_crop_flip(rng, images, pad: int) -> jax.Array:
  """Random `H x W` crop of the image zero-padded by `pad` on each side, then a random flip.

  Each image draws its own offsets in `[0, 2 * pad]` and its own coin for the horizontal flip.

  Args:
    rng: a `jax.random` key.
    images: `(B, H, W, C)` of any dtype (kept).
    pad: pixels of zero padding per side (static).

  Returns:
    `(B, H, W, C)` augmented images.
  """
  batch, height, width, channels = images.shape
  crop_key, flip_key = jax.random.split(rng)
  offsets = jax.random.randint(crop_key, (batch, 2), 0, 2 * pad + 1)
  padded = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  crop = lambda image, offset: jax.lax.dynamic_slice(
      image, (offset[0], offset[1], 0), (height, width, channels))
  cropped = jax.vmap(crop)(padded, offsets)
  flip = jax.random.bernoulli(flip_key, 0.5, (batch,))
  return jnp.where(flip[:, None, None, None], cropped[:, :, ::-1], cropped)


def crop_pad_for(height: int) -> int:
  """Padding of the random crop: 4 px at 32 px, the paper's CIFAR setting, scaled with size."""
  return max(1, height // 8)


def memory_train_preprocess(rng, images, *, mean, std, pad: int) -> jax.Array:
  """Train preprocessing of raw uint8 images: `pad_crop_flip`, then `normalize`."""
  return normalize(pad_crop_flip(rng, images, pad), mean, std)


def memory_eval_preprocess(images, *, mean, std) -> jax.Array:
  """Eval preprocessing of raw uint8 images: `normalize` only."""
  return normalize(images, mean, std)


def streamed_train_preprocess(rng, images) -> jax.Array:
  """Images from tf.data are augmented and normalized already: cast to float32 only."""
  del rng
  return images.astype(jnp.float32)


def streamed_eval_preprocess(images) -> jax.Array:
  """Images from tf.data are normalized already: cast to float32 only."""
  return images.astype(jnp.float32)
