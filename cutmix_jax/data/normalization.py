"""Per-channel normalization constants, on the [0, 1] pixel scale.

Which constants a dataset gets (see `cutmix_jax.data.loader`):
- tfds `cifar10` / `cifar100`: the paper's CIFAR constants.
- images streamed through tf.data (larger than 64 px): the standard ImageNet constants.
- every other in-memory set (`shapes`, small `folder:` sets, other small tfds sets): mean and
  standard deviation computed from its own training images, so a new small dataset needs no
  hand-entered numbers (for the CIFAR-10 JPEGs this lands within 0.002 of the paper's constants).
"""
from typing import Tuple

import numpy as np

Stats = Tuple[Tuple[float, ...], Tuple[float, ...]]

CIFAR_MEAN = (125.3 / 255, 123.0 / 255, 113.9 / 255)
CIFAR_STD = (63.0 / 255, 62.1 / 255, 66.7 / 255)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def channel_stats(images: np.ndarray, chunk: int = 4096) -> Stats:
  """Per-channel mean and standard deviation of uint8 images `(N, H, W, C)`, on [0, 1].

  Accumulated in float64 over chunks, so a 50,000-image set needs no float copy of itself.
  """
  total = np.zeros(images.shape[-1])
  total_sq = np.zeros(images.shape[-1])
  for start in range(0, len(images), chunk):
    block = images[start:start + chunk].astype(np.float64) / 255.0
    total += block.sum(axis=(0, 1, 2))
    total_sq += np.square(block).sum(axis=(0, 1, 2))
  count = images.size // images.shape[-1]
  mean = total / count
  std = np.sqrt(np.maximum(total_sq / count - np.square(mean), 0.0))
  return tuple(float(m) for m in mean), tuple(float(s) for s in std)
