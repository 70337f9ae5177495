"""The train preprocessing of a batch on device, inside the train step: `train_preprocess`.

In timm's order (DeiT's transform): the paper's crop and flip for in-memory sets (streamed sets
were cropped and flipped on the host), then RandAugment or 3-Augment on the uint8 pixels,
normalization, and random erasing of the normalized input. Each of the last three is a
`DataConfig` field, off by default; with them off a batch gets exactly the crop, flip and
normalization it got before they existed.
"""

import dataclasses
from typing import Optional, Sequence, Tuple

import jax

from cutmix_jax.data import augment
from cutmix_jax.data import rand_augment as rand_augment_lib
from cutmix_jax.data import random_erasing as random_erasing_lib
from cutmix_jax.data import three_augment as three_augment_lib

INTERPOLATIONS = ('bilinear', 'bicubic')
# The train step folds the augmentation key with 1 for the model's dropout stream; the extras
# draw from the key folded with these.
PIXEL_STREAM, ERASING_STREAM = 2, 3


@dataclasses.dataclass(frozen=True)
class TrainAugment:
  """The train augmentations beyond crop and flip (hashable: bound into the jitted step).

  Attributes:
    rand_augment: timm's RandAugment, or None.
    three_augment: DeiT III's 3-Augment (one of grayscale, solarize, blur; colour jitter).
    random_erasing: probability that an image gets a rectangle of noise (0: never).
    interpolation: resampling of the geometric ops (and of streamed sets' resize).
  """

  rand_augment: Optional[rand_augment_lib.RandAugmentSettings] = None
  three_augment: bool = False
  random_erasing: float = 0.0
  interpolation: str = 'bilinear'


def settings(
    rand_augment: str, three_augment: bool, random_erasing: float, interpolation: str
) -> TrainAugment:
  """The `TrainAugment` of `DataConfig`'s fields of those names.

  Raises:
    ValueError: one line, for a bad RandAugment string, probability or interpolation, or for
      RandAugment and 3-Augment together (DeiT III replaced the one by the other).
  """
  if interpolation not in INTERPOLATIONS:
    raise ValueError(
        f'unknown interpolation {interpolation!r}; valid: {", ".join(map(repr, INTERPOLATIONS))}'
    )
  random_erasing_lib.check_prob(random_erasing)
  if rand_augment and three_augment:
    raise ValueError(
        'rand_augment and three_augment are alternatives (DeiT or DeiT III); choose one'
    )
  parsed = rand_augment_lib.parse(rand_augment) if rand_augment else None
  return TrainAugment(parsed, bool(three_augment), float(random_erasing), interpolation)


def fill_of(mean: Sequence[float]) -> Tuple[int, ...]:
  """The uint8 colour that geometric ops fill with: the normalization mean (timm's `img_mean`)."""
  return tuple(min(255, round(255 * m)) for m in mean)


def train_preprocess(
    rng, images, *, mean, std, pad: int, extras: TrainAugment = TrainAugment()
) -> jax.Array:
  """uint8 `(B, H, W, C)` -> the normalized float32 train input `(B, H, W, C)`.

  Args:
    rng: this device's augmentation key; every image draws its own.
    images: uint8 `(B, H, W, C)`.
    mean: per-channel normalization mean on the [0, 1] scale.
    std: per-channel normalization standard deviation on the [0, 1] scale.
    pad: padding of the random crop and flip (`augment.pad_crop_flip`); 0: neither (streamed
      sets, cropped and flipped on the host).
    extras: the augmentations after crop and flip.
  """
  if pad:
    images = augment.pad_crop_flip(rng, images, pad)
  if extras.rand_augment is not None:
    images = rand_augment_lib.rand_augment(
        jax.random.fold_in(rng, PIXEL_STREAM),
        images,
        extras.rand_augment,
        fill=fill_of(mean),
        interpolation=extras.interpolation,
    )
  if extras.three_augment:
    images = three_augment_lib.three_augment(jax.random.fold_in(rng, PIXEL_STREAM), images)
  inputs = augment.normalize(images, mean, std)
  if extras.random_erasing:
    key = jax.random.fold_in(rng, ERASING_STREAM)
    inputs = random_erasing_lib.random_erasing(key, inputs, extras.random_erasing)
  return inputs
