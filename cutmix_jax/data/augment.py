"""On-device preprocessing: pure jittable functions a pmapped step applies per device.

Every dataset hands the device uint8 `(B, H, W, C)`. The train preprocessing of in-memory sets
starts with the paper's CIFAR augmentation (`pad_crop_flip`: zero-padded random crop and
horizontal flip, independently per image); streamed images (Grain or tf.data) were cropped and
flipped on the host. `train_augment.train_preprocess` chains the rest; eval is `normalize` for
every set. With the constants bound by `functools.partial` they share the signatures
`train(rng, images)` and `eval(images)`.

Normalization constants, on the [0, 1] pixel scale, by dataset (chosen by its source module):
- tfds `cifar10` / `cifar100`: the paper's CIFAR constants.
- streamed images (larger than `memory.MAX_SIDE`): the ImageNet constants.
- every other in-memory set (`shapes`, small `folder:` sets, other small tfds sets): mean and
  standard deviation of its own training images (`channel_stats`), so a new small dataset needs
  no hand-entered numbers (for the CIFAR-10 JPEGs this lands within 0.002 of the paper's).
"""

from typing import Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

Stats = Tuple[Tuple[float, ...], Tuple[float, ...]]

CIFAR_MEAN = (125.3 / 255, 123.0 / 255, 113.9 / 255)
CIFAR_STD = (63.0 / 255, 62.1 / 255, 66.7 / 255)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The eval centre crop's side over the shorter side (ResNet's 224 of 256; timm's crop_pct).
EVAL_CROP_FRACTION = 224 / 256


def channel_stats(images: np.ndarray, chunk: int = 4096) -> Stats:
  """Per-channel mean and standard deviation of uint8 images `(N, H, W, C)`, on [0, 1].

  Accumulated in float64 over chunks, so a 50,000-image set needs no float copy of itself.
  """
  total = np.zeros(images.shape[-1])
  total_sq = np.zeros(images.shape[-1])
  for start in range(0, len(images), chunk):
    block = images[start : start + chunk].astype(np.float64) / 255.0
    total += block.sum(axis=(0, 1, 2))
    total_sq += np.square(block).sum(axis=(0, 1, 2))
  count = images.size // images.shape[-1]
  mean = total / count
  std = np.sqrt(np.maximum(total_sq / count - np.square(mean), 0.0))
  return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def normalize(
    images, mean: Sequence[float], std: Sequence[float], pixel_max: float = 255.0
) -> jax.Array:
  """The model's input: `(images / pixel_max - mean) / std` per channel, float32, with mean and
  std on the [0, 1] scale. `pixel_max` is 255 for uint8 images, 1 for `[0, 1]` pixels (where
  the evaluation perturbs images); the one normalization of the package."""
  mean = jnp.asarray(mean, jnp.float32) * pixel_max
  std = jnp.asarray(std, jnp.float32) * pixel_max
  return (images.astype(jnp.float32) - mean) / std


def denormalize(inputs, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
  """uint8 images `(N, H, W, C)` of normalized model inputs: the inverse of `normalize`."""
  pixels = np.asarray(inputs) * (np.asarray(std) * 255.0) + np.asarray(mean) * 255.0
  return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


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
      image, (offset[0], offset[1], 0), (height, width, channels)
  )
  cropped = jax.vmap(crop)(padded, offsets)
  flip = jax.random.bernoulli(flip_key, 0.5, (batch,))
  return jnp.where(flip[:, None, None, None], cropped[:, :, ::-1], cropped)


def crop_pad_for(height: int) -> int:
  """Padding of the random crop: 4 px at 32 px, the paper's CIFAR setting, scaled with size."""
  return max(1, height // 8)
