"""`shapes`: a synthetic 10-class, 32 x 32 RGB dataset with a ground-truth box per image.

The class of an image is its one object: one of 5 silhouettes (`SHAPES`) in one of 2 textures
(`TEXTURES`: one flat colour, or stripes of two colours at a random angle and period). The
object has a random size (radius 7 to 12 px), position (always fully inside the image) and
rotation, and random colours; it lies on a smooth random colour field cluttered with flat
rectangles and stripe-textured patches, plus pixel noise. So neither colour, position, texture
alone nor shape alone gives the class away: a model has to find the object and read both.

Each image carries the object's silhouette mask and its tight box `(y1, y2, x1, x2)` (half-open
pixel coordinates: the smallest box holding every silhouette pixel), for localization tests.
Generation is vectorised NumPy and deterministic in the seed: about 2 s per 10k images.
"""

import dataclasses
from typing import Tuple

import numpy as np

from cutmix_jax.data import drawing
from cutmix_jax.data import memory
from cutmix_jax.data import source

SHAPES = ('disk', 'square', 'triangle', 'plus', 'ring')
TEXTURES = ('plain', 'striped')
CLASS_NAMES = tuple(f'{texture} {shape}' for shape in SHAPES for texture in TEXTURES)
SIZE = drawing.SIZE
DATA_SEED = 0  # the seed of the `shapes` source: the same images whatever the training seed
_NUM_CLUTTER = 5


@dataclasses.dataclass(frozen=True)
class Shapes:
  """Generated examples: uint8 `images (N, 32, 32, 3)`, int32 `labels (N,)` (= 2 * shape +
  texture), int32 `boxes (N, 4)` as `(y1, y2, x1, x2)`, bool `masks (N, 32, 32)` silhouettes."""

  images: np.ndarray
  labels: np.ndarray
  boxes: np.ndarray
  masks: np.ndarray


def _silhouettes(shape_ids: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
  """Masks of each image's shape in object coordinates `(u, v)` (unit = radius), `(n, S, S)`.

  Every shape fits in the unit disk, so an object of radius r centred >= r from each border lies
  fully inside the image.
  """
  radius_sq = u * u + v * v
  triangle = np.ones_like(radius_sq, bool)
  for angle in np.pi / 2 + 2 * np.pi * np.arange(3) / 3:
    triangle &= u * np.cos(angle) + v * np.sin(angle) <= 0.5
  bar_u = (np.abs(u) <= 0.3) & (np.abs(v) <= 0.95)
  bar_v = (np.abs(v) <= 0.3) & (np.abs(u) <= 0.95)
  masks = np.stack(
      [
          radius_sq <= 1.0,
          np.maximum(np.abs(u), np.abs(v)) <= 0.7,
          triangle,
          bar_u | bar_v,
          (radius_sq >= 0.3) & (radius_sq <= 1.0),
      ]
  )
  return masks[shape_ids, np.arange(len(shape_ids))]


def _stripes(rng, n: int) -> np.ndarray:
  """Random two-tone stripe patterns, True on the second tone, `(n, S, S)`."""
  rows, cols = drawing.pixel_centres()
  angle = rng.uniform(0, np.pi, (n, 1, 1)).astype(np.float32)
  period = rng.uniform(3.0, 5.0, (n, 1, 1)).astype(np.float32)
  phase = rng.uniform(64, 66, (n, 1, 1)).astype(np.float32)  # keeps half_periods > 0
  half_periods = (cols * np.cos(angle) + rows * np.sin(angle)) * (2 / period) + phase
  return half_periods.astype(np.int32) % 2 == 1


def _smooth_field(rng, n: int) -> np.ndarray:
  """A smooth random colour field, the bilinear upsampling of a 4 x 4 grid, `(n, S, S, 3)`."""
  grid = rng.uniform(0, 255, (n, 3, 4, 4)).astype(np.float32)
  return drawing.upsample_to_image(grid).transpose(0, 2, 3, 1)


def _clutter(rng, n: int) -> np.ndarray:
  """Masks of `_NUM_CLUTTER` random rectangles (1 to 8 px a side) per image, `(K, n, S, S)`."""
  rows, cols = drawing.pixel_centres()
  top, left, height, width = (
      rng.uniform(low, high, (_NUM_CLUTTER, n, 1, 1))
      for low, high in ((-4, SIZE), (-4, SIZE), (1, 8), (1, 8))
  )
  return (rows >= top) & (rows < top + height) & (cols >= left) & (cols < left + width)


def _objects(rng, shape_ids: np.ndarray) -> np.ndarray:
  """Silhouettes of randomly sized, placed and rotated objects, `(n, S, S)`."""
  n = len(shape_ids)
  radius = rng.uniform(7.0, 12.0, (n, 1, 1)).astype(np.float32)
  centre_y, centre_x = (rng.uniform(radius, SIZE - radius).astype(np.float32) for _ in range(2))
  angle = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
  rows, cols = drawing.pixel_centres()
  dy, dx = rows - centre_y, cols - centre_x
  u = (dx * np.cos(angle) + dy * np.sin(angle)) / radius
  v = (dy * np.cos(angle) - dx * np.sin(angle)) / radius
  return _silhouettes(shape_ids, u, v)


def _compose(rng, layers: np.ndarray, textured: np.ndarray) -> np.ndarray:
  """Paints layers `(L, n, S, S)` in order over a smooth field, float32 `(n, S, S, 3)`.

  Each layer has a random pair of contrasting colours; where `textured (L, n)`, it is striped in
  the two, else flat in the first.
  """
  num_layers, n = textured.shape
  top = np.zeros(layers.shape[1:], np.int32)  # 0: background, k: layer k - 1
  tone = np.zeros(layers.shape[1:], bool)
  for k in range(num_layers):
    top[layers[k]] = k + 1
    tone = np.where(layers[k], _stripes(rng, n) & textured[k][:, None, None], tone)
  first, second = drawing.contrasting_colours(rng, (n, num_layers + 1))
  palette = np.stack([first, second], axis=2).reshape(-1, 3)  # rows (image, layer, tone)
  row = (np.arange(n)[:, None, None] * (num_layers + 1) + top) * 2 + tone
  return np.where(top[..., None] == 0, _smooth_field(rng, n), palette.take(row, axis=0))


def boxes_from_masks(masks: np.ndarray) -> np.ndarray:
  """Tight half-open boxes `(y1, y2, x1, x2)` int32 `(n, 4)` of non-empty masks `(n, H, W)`."""
  rows, cols = masks.any(axis=2), masks.any(axis=1)
  first = lambda a: a.argmax(axis=1)
  last = lambda a: a.shape[1] - a[:, ::-1].argmax(axis=1)
  return np.stack([first(rows), last(rows), first(cols), last(cols)], 1).astype(np.int32)


def _generate_chunk(rng, labels: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  masks = _objects(rng, labels // len(TEXTURES))
  layers = np.concatenate([_clutter(rng, len(labels)), masks[None]])
  textured = np.concatenate(
      [rng.uniform(size=(_NUM_CLUTTER, len(labels))) < 0.3, (labels % len(TEXTURES) == 1)[None]]
  )
  return drawing.add_noise_to_uint8(rng, _compose(rng, layers, textured), 8.0), masks


def generate(num_examples: int, seed: int) -> Shapes:
  """Generates `num_examples` images, classes balanced and shuffled, deterministically in seed."""
  rng = np.random.default_rng(seed)
  labels = drawing.balanced_labels(rng, num_examples, len(CLASS_NAMES))
  images, masks = drawing.in_chunks(rng, labels, _generate_chunk)
  return Shapes(images, labels, boxes_from_masks(masks), masks)


def _split(num_examples: int, seed: int) -> memory.ArraySplit:
  data = generate(num_examples, seed)
  return memory.ArraySplit(data.images, data.labels, data.boxes)


def list_source(argument: str, config) -> source.Listing:
  """The `shapes` source (`argument` is empty) of `config.synthetic_num_*` images."""
  del argument
  return source.generated(_split, DATA_SEED, CLASS_NAMES, config)
