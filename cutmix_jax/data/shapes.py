"""`shapes`: a synthetic 10-class, 32 x 32 RGB dataset with a ground-truth box per image.

The class of an image is its one object: one of 5 silhouettes (`SHAPES`) in one of 2 textures
(`TEXTURES`: one flat colour, or stripes of two colours at a random angle and period). The
object has a random size (radius 5 to 11 px), position (always fully inside the image) and
rotation, and random colours; it lies on a smooth random colour field cluttered with flat
rectangles and stripe-textured patches, plus pixel noise. So neither colour, position, texture
alone nor shape alone gives the class away: a model has to find the object and read both.

Each image carries the object's silhouette mask and its tight box `(y1, y2, x1, x2)` (half-open
pixel coordinates: the smallest box holding every silhouette pixel), for localization tests.
Generation is vectorised NumPy and deterministic in the seed: about a second per 10k images.
"""
import dataclasses
from typing import Tuple

import numpy as np

from cutmix_jax.data import memory

SHAPES = ('disk', 'square', 'triangle', 'plus', 'ring')
TEXTURES = ('plain', 'striped')
CLASS_NAMES = tuple(f'{texture} {shape}' for shape in SHAPES for texture in TEXTURES)
SIZE = 32
DATA_SEED = 0  # the seed of the `shapes` source: the same images whatever the training seed
_CHUNK = 2048  # images generated at once; fixed, since the draws depend on it
_NUM_CLUTTER = 6


@dataclasses.dataclass(frozen=True)
class Shapes:
  """Generated examples: uint8 `images (N, 32, 32, 3)`, int32 `labels (N,)` (= 2 * shape +
  texture), int32 `boxes (N, 4)` as `(y1, y2, x1, x2)`, bool `masks (N, 32, 32)` silhouettes."""
  images: np.ndarray
  labels: np.ndarray
  boxes: np.ndarray
  masks: np.ndarray


def _grid() -> Tuple[np.ndarray, np.ndarray]:
  centres = np.arange(SIZE, dtype=np.float32) + 0.5
  return centres[:, None], centres[None, :]


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
  masks = np.stack([
      radius_sq <= 1.0,
      np.maximum(np.abs(u), np.abs(v)) <= 0.7,
      triangle,
      bar_u | bar_v,
      (radius_sq >= 0.3) & (radius_sq <= 1.0),
  ])
  return masks[shape_ids, np.arange(len(shape_ids))]


def _stripes(rng, n: int) -> np.ndarray:
  """Random two-tone stripe patterns, True on one tone, `(n, S, S)`."""
  rows, cols = _grid()
  angle = rng.uniform(0, np.pi, (n, 1, 1))
  period = rng.uniform(3.0, 5.0, (n, 1, 1))
  phase = rng.uniform(0, 1, (n, 1, 1))
  position = (cols * np.cos(angle) + rows * np.sin(angle)) / period + phase
  return position % 1.0 < 0.5


def _colours(rng, n: int) -> Tuple[np.ndarray, np.ndarray]:
  """Pairs of contrasting RGB colours `(n, 1, 1, 3)`: a random one and one far from it."""
  first = rng.uniform(0, 255, (n, 1, 1, 3))
  second = (first + 128 + rng.uniform(-48, 48, (n, 1, 1, 3))) % 256
  return first, second


def _paint(canvas, mask, textured, rng) -> None:
  """Paints `mask` on `canvas` in place: a flat colour, or stripes where `textured`."""
  first, second = _colours(rng, len(canvas))
  tone = _stripes(rng, len(canvas)) & textured[:, None, None]
  colour = np.where(tone[..., None], second, first)
  canvas[:] = np.where(mask[..., None], colour, canvas)


def _background(rng, n: int) -> np.ndarray:
  """A smooth random colour field (bilinear upsampling of a 4 x 4 grid) with clutter."""
  knots = np.linspace(0, 3, SIZE)
  weights = np.maximum(0, 1 - np.abs(knots[:, None] - np.arange(4)[None, :]))
  canvas = np.einsum('yi,nijc,xj->nyxc', weights, rng.uniform(0, 255, (n, 4, 4, 3)), weights)
  rows, cols = _grid()
  for _ in range(_NUM_CLUTTER):
    top, left = (rng.uniform(-4, SIZE, (n, 1, 1)) for _ in range(2))
    height, width = (rng.uniform(1, 10, (n, 1, 1)) for _ in range(2))
    patch = (rows >= top) & (rows < top + height) & (cols >= left) & (cols < left + width)
    _paint(canvas, patch, rng.uniform(size=n) < 0.5, rng)
  return canvas


def _objects(rng, shape_ids: np.ndarray) -> np.ndarray:
  """Silhouettes of randomly sized, placed and rotated objects, `(n, S, S)`."""
  n = len(shape_ids)
  radius = rng.uniform(5.0, 11.0, (n, 1, 1))
  centre_y, centre_x = (rng.uniform(radius, SIZE - radius) for _ in range(2))
  angle = rng.uniform(0, 2 * np.pi, (n, 1, 1))
  rows, cols = _grid()
  dy, dx = rows - centre_y, cols - centre_x
  u = (dx * np.cos(angle) + dy * np.sin(angle)) / radius
  v = (dy * np.cos(angle) - dx * np.sin(angle)) / radius
  return _silhouettes(shape_ids, u, v)


def boxes_from_masks(masks: np.ndarray) -> np.ndarray:
  """Tight half-open boxes `(y1, y2, x1, x2)` int32 `(n, 4)` of non-empty masks `(n, H, W)`."""
  rows, cols = masks.any(axis=2), masks.any(axis=1)
  first = lambda a: a.argmax(axis=1)
  last = lambda a: a.shape[1] - a[:, ::-1].argmax(axis=1)
  return np.stack([first(rows), last(rows), first(cols), last(cols)], 1).astype(np.int32)


def _generate_chunk(rng, labels: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  canvas = _background(rng, len(labels))
  masks = _objects(rng, labels // len(TEXTURES))
  _paint(canvas, masks, labels % len(TEXTURES) == 1, rng)
  canvas += rng.normal(0, 8, canvas.shape)
  return np.clip(np.rint(canvas), 0, 255).astype(np.uint8), masks


def generate(num_examples: int, seed: int) -> Shapes:
  """Generates `num_examples` images, classes balanced and shuffled, deterministically in seed."""
  rng = np.random.default_rng(seed)
  labels = rng.permutation(np.arange(num_examples) % len(CLASS_NAMES)).astype(np.int32)
  chunks = [_generate_chunk(rng, labels[i:i + _CHUNK]) for i in range(0, num_examples, _CHUNK)]
  images = np.concatenate([c[0] for c in chunks])
  masks = np.concatenate([c[1] for c in chunks])
  return Shapes(images, labels, boxes_from_masks(masks), masks)


def load(num_train: int, num_test: int,
         seed: int = DATA_SEED) -> Tuple[memory.ArraySplit, memory.ArraySplit]:
  """The train and test splits, from independent streams of `seed` (sizes do not interact)."""
  splits = []
  for stream, size in enumerate((num_train, num_test)):
    data = generate(size, np.random.SeedSequence([seed, stream]).generate_state(1)[0])
    splits.append(memory.ArraySplit(data.images, data.labels, data.boxes))
  return splits[0], splits[1]
