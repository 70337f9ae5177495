"""Per-image tf.data ops for large images: decode, crop, resize, flip, normalize.

Train: the random-resized crop of torchvision's `RandomResizedCrop` (scale 0.08 to 1 of the
area, aspect ratio log-uniform in 3/4 to 4/3, 10 tries, else a centre crop of clamped aspect
ratio), resized to `image_size` (bilinear or bicubic, antialiased), and a horizontal flip.
Eval: the centre square of side `224/256` (or `crop_fraction`) of the shorter side (resize to
`image_size * 256/224`, centre crop `image_size`), resized to `image_size`. JPEGs decode only the
crop window. Random ops are stateless, seeded per example, so a pipeline is deterministic given
its seeds.
"""

import math
from typing import Callable, Sequence

from cutmix_jax.data import augment
from cutmix_jax.data.tensorflow_cpu import tf

_ATTEMPTS = 10


def _fallback_size(height, width, ratio: Sequence[float]):
  """torchvision's fallback crop size: the whole image, its aspect ratio clamped to `ratio`."""
  in_ratio = width / height
  crop_h = tf.where(in_ratio < ratio[0], tf.round(width / ratio[0]), height)
  crop_w = tf.where(in_ratio > ratio[1], tf.round(height * ratio[1]), width)
  return crop_h, crop_w


def random_resized_window(shape, seed, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
  """A random crop window `[y, x, h, w]` (int32) of an image of `shape` `[H, W, ...]`.

  Draws `_ATTEMPTS` (area fraction, log aspect ratio) pairs at once and takes the first window
  that fits, as torchvision tries them one by one; if none fits, the centred `_fallback_size`.
  """
  height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
  area_seed, ratio_seed, offset_seed = tf.unstack(tf.random.split(seed, 3))
  area = height * width * tf.random.stateless_uniform([_ATTEMPTS], area_seed, *scale)
  aspect = tf.exp(
      tf.random.stateless_uniform([_ATTEMPTS], ratio_seed, math.log(ratio[0]), math.log(ratio[1]))
  )
  crop_w, crop_h = tf.round(tf.sqrt(area * aspect)), tf.round(tf.sqrt(area / aspect))
  fits = (crop_w <= width) & (crop_h <= height) & (crop_w > 0) & (crop_h > 0)
  any_fit = tf.reduce_any(fits)
  first = tf.argmax(tf.cast(fits, tf.int32))
  fallback_h, fallback_w = _fallback_size(height, width, ratio)
  crop_h = tf.where(any_fit, crop_h[first], fallback_h)
  crop_w = tf.where(any_fit, crop_w[first], fallback_w)
  free = tf.stack([height - crop_h, width - crop_w])
  random_offset = tf.floor(tf.random.stateless_uniform([2], offset_seed) * (free + 1))
  offset = tf.where(any_fit, random_offset, tf.floor(free / 2))
  return tf.cast(tf.concat([offset, [crop_h, crop_w]], 0), tf.int32)


def centre_window(shape, fraction: float = augment.EVAL_CROP_FRACTION):
  """The centred square window `[y, x, side, side]` with side `fraction * min(H, W)`."""
  height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
  side = tf.round(fraction * tf.minimum(height, width))
  y = tf.round((height - side) / 2)
  x = tf.round((width - side) / 2)
  return tf.cast(tf.stack([y, x, side, side]), tf.int32)


def decode_window(data, window_fn: Callable):
  """Decodes encoded image bytes to the uint8 RGB crop `window_fn(shape)` picks.

  JPEGs decode only the window; other formats (PNG, ...) decode whole and are then sliced.
  """

  def jpeg():
    window = window_fn(tf.image.extract_jpeg_shape(data))
    return tf.image.decode_and_crop_jpeg(data, window, channels=3)

  def other():
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    window = window_fn(tf.shape(image))
    return tf.slice(image, [window[0], window[1], 0], [window[2], window[3], 3])

  return tf.cond(tf.io.is_jpeg(data), jpeg, other)


def _resize(image, image_size: int, interpolation: str):
  """The crop resized (antialiased, 'bilinear' or 'bicubic') to `image_size` square, rounded back
  to uint8."""
  image = tf.image.resize(image, [image_size, image_size], method=interpolation, antialias=True)
  image.set_shape([image_size, image_size, 3])
  return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


def train_image(data, seed, image_size: int, interpolation: str = 'bilinear'):
  """Encoded image -> augmented uint8 `(image_size, image_size, 3)` (normalized on device)."""
  crop_seed, flip_seed = tf.unstack(tf.random.split(seed, 2))
  image = decode_window(data, lambda shape: random_resized_window(shape, crop_seed))
  image = tf.image.stateless_random_flip_left_right(image, flip_seed)
  return _resize(image, image_size, interpolation)


def eval_image(
    data,
    image_size: int,
    interpolation: str = 'bilinear',
    crop_fraction: float = augment.EVAL_CROP_FRACTION,
):
  """Encoded image -> centre-cropped uint8 `(image_size, image_size, 3)`."""
  window = lambda shape: centre_window(shape, crop_fraction)
  return _resize(decode_window(data, window), image_size, interpolation)
