"""NumPy drawing helpers shared by the generated datasets (`shapes`, `textures`).

Everything is vectorised over a chunk of images and draws from a `np.random.Generator`, so a
dataset is deterministic in its seed.
"""

from typing import Callable, Tuple

import numpy as np

SIZE = 32  # side of every generated image, pixels
CHUNK = 2048  # images generated at once; fixed, since the draws depend on it


def pixel_centres() -> Tuple[np.ndarray, np.ndarray]:
  """Row `(S, 1)` and column `(1, S)` coordinates of the pixel centres, float32."""
  centres = np.arange(SIZE, dtype=np.float32) + np.float32(0.5)
  return centres[:, None], centres[None, :]


def contrasting_colours(rng, shape: Tuple[int, ...]) -> Tuple[np.ndarray, np.ndarray]:
  """Random RGB colours `shape + (3,)` and, for each, a second one far from it in every channel."""
  first = rng.uniform(0, 255, shape + (3,)).astype(np.float32)
  second = (first + 128 + rng.uniform(-48, 48, first.shape).astype(np.float32)) % 256
  return first, second


def upsample_to_image(grid: np.ndarray) -> np.ndarray:
  """Bilinear upsampling of float32 `(..., k, k)` grids to `(..., S, S)`: a smooth random field
  when the grid is random (the grid's corners land on the image's corners)."""
  k = grid.shape[-1]
  knots = np.linspace(0, k - 1, SIZE, dtype=np.float32)
  weights = np.maximum(0, 1 - np.abs(knots[:, None] - np.arange(k, dtype=np.float32)))
  return weights @ grid @ weights.T


def add_noise_to_uint8(rng, canvas: np.ndarray, noise_std: float) -> np.ndarray:
  """`canvas` plus Gaussian pixel noise of `noise_std`, rounded and clipped to uint8."""
  canvas = canvas + noise_std * rng.standard_normal(canvas.shape, np.float32)
  return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


def balanced_labels(rng, num_examples: int, num_classes: int) -> np.ndarray:
  """int32 labels with every class equally often (up to one), in a random order."""
  return rng.permutation(np.arange(num_examples) % num_classes).astype(np.int32)


def in_chunks(rng, labels: np.ndarray, draw_chunk: Callable) -> Tuple[np.ndarray, ...]:
  """Concatenates `draw_chunk(rng, labels_of_chunk)` (a tuple of arrays) over chunks of
  `CHUNK` labels, so memory stays bounded whatever the dataset's size."""
  chunks = [draw_chunk(rng, labels[i : i + CHUNK]) for i in range(0, len(labels), CHUNK)]
  return tuple(np.concatenate(parts) for parts in zip(*chunks))
