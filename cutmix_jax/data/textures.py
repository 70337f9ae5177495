"""`textures`: a synthetic 10-class, 32 x 32 RGB dataset whose class is a texture over the frame.

The class of an image is its texture (`CLASS_NAMES`: stripes, checks, dots, ...), drawn over the
whole frame at a random angle, scale and phase in two random contrasting colours, plus pixel
noise. So the evidence for the class is everywhere in the image, as in photos whose object fills
the frame: a box cut from one image carries its class in proportion to its area, which is the
label CutMix gives it (`shapes` is the opposite case: one small object on clutter). Built to
find a CPU-scale regime where CutMix beats the baseline; with 200-500 training images it did not,
over seeds (docs/RESULTS.md, pilots). There are no object boxes: nothing single to localize.

Generation is vectorised NumPy and deterministic in the seed: about 1 s per 10k images.
"""

from typing import Tuple

import numpy as np

from cutmix_jax.data import drawing
from cutmix_jax.data import memory
from cutmix_jax.data import source

DATA_SEED = 0  # the seed of the `textures` source: the same images whatever the training seed
_NOISE_STD = 12.0  # pixel noise, on the 0-255 scale


def _fraction(x: np.ndarray) -> np.ndarray:
  return x - np.floor(x)


def _stripes(rng, s, t, period):
  del rng, t
  return _fraction(s / period) < 0.5


def _checks(rng, s, t, period):
  del rng
  return (np.floor(s / period) + np.floor(t / period)) % 2 == 1


def _dots(rng, s, t, period):
  del rng
  spacing = 1.3 * period
  du, dv = _fraction(s / spacing) - 0.5, _fraction(t / spacing) - 0.5
  return du * du + dv * dv < 0.09


def _rings(rng, s, t, period):
  del s, t
  rows, cols = drawing.pixel_centres()
  centre_y, centre_x = (rng.uniform(-16, 48, period.shape).astype(np.float32) for _ in range(2))
  radius = np.sqrt(np.square(rows - centre_y) + np.square(cols - centre_x))
  return _fraction(radius / period) < 0.5


def _grid(rng, s, t, period):
  del rng
  spacing = 1.4 * period
  return (_fraction(s / spacing) < 0.3) | (_fraction(t / spacing) < 0.3)


def _waves(rng, s, t, period):
  amplitude = rng.uniform(1.5, 3.0, period.shape).astype(np.float32)
  wavelength = rng.uniform(8.0, 14.0, period.shape).astype(np.float32)
  return _fraction((s + amplitude * np.sin(2 * np.pi * t / wavelength)) / period) < 0.5


def _bricks(rng, s, t, period):
  del rng
  course = 1.2 * period
  row = np.floor(t / course)
  bed_joint = _fraction(t / course) < 0.3
  head_joint = _fraction((s + (row % 2) * course) / (2 * course)) < 0.15
  return bed_joint | head_joint


def _dashes(rng, s, t, period):
  del rng
  return (_fraction(s / period) < 0.45) & (
      _fraction((t + 7 * np.floor(s / period)) / (2.2 * period)) < 0.6
  )


def _blobs(rng, s, t, period):
  """Sign of a smooth random field: the bilinear upsampling of a 6 x 6 grid of normals."""
  del s, t
  return drawing.upsample_to_image(rng.standard_normal((len(period), 6, 6)).astype(np.float32)) > 0


def _zigzag(rng, s, t, period):
  wavelength = rng.uniform(6.0, 10.0, period.shape).astype(np.float32)
  amplitude = rng.uniform(1.5, 3.0, period.shape).astype(np.float32)
  triangle = 4 * np.abs(_fraction(t / wavelength) - 0.5) - 1
  return _fraction((s + amplitude * triangle) / period) < 0.5


_TEXTURES = (
    ('stripes', _stripes),
    ('checks', _checks),
    ('dots', _dots),
    ('rings', _rings),
    ('grid', _grid),
    ('waves', _waves),
    ('bricks', _bricks),
    ('dashes', _dashes),
    ('blobs', _blobs),
    ('zigzag', _zigzag),
)
CLASS_NAMES = tuple(name for name, _ in _TEXTURES)


def _paint(rng, labels: np.ndarray) -> np.ndarray:
  """Each image filled with the texture of its label, float32 `(n, S, S, 3)`."""
  canvas = np.zeros((len(labels), drawing.SIZE, drawing.SIZE, 3), np.float32)
  rows, cols = drawing.pixel_centres()
  for label, (_, texture) in enumerate(_TEXTURES):
    index = np.flatnonzero(labels == label)
    n = len(index)
    angle = rng.uniform(0, np.pi, (n, 1, 1)).astype(np.float32)
    period = rng.uniform(3.5, 6.5, (n, 1, 1)).astype(np.float32)
    shift_y, shift_x = (
        rng.uniform(0, drawing.SIZE, (n, 1, 1)).astype(np.float32) for _ in range(2)
    )
    y, x = rows + shift_y, cols + shift_x
    s = x * np.cos(angle) + y * np.sin(angle)  # across the pattern
    t = y * np.cos(angle) - x * np.sin(angle)  # along it
    mask = texture(rng, s, t, period)
    first, second = drawing.contrasting_colours(rng, (n, 1, 1))
    canvas[index] = np.where(mask[..., None], second, first)
  return canvas


def _generate_chunk(rng, labels: np.ndarray) -> Tuple[np.ndarray]:
  return (drawing.add_noise_to_uint8(rng, _paint(rng, labels), _NOISE_STD),)


def generate(num_examples: int, seed: int) -> memory.ArraySplit:
  """`num_examples` images, classes balanced and shuffled, deterministically in `seed`."""
  rng = np.random.default_rng(seed)
  labels = drawing.balanced_labels(rng, num_examples, len(CLASS_NAMES))
  (images,) = drawing.in_chunks(rng, labels, _generate_chunk)
  return memory.ArraySplit(images, labels)


def list_source(argument: str, config) -> source.Listing:
  """The `textures` source (`argument` is empty) of `config.synthetic_num_*` images."""
  del argument
  return source.generated(generate, DATA_SEED, CLASS_NAMES, config)
