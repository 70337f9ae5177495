"""The in-memory pipeline: small images held as uint8 arrays, batched on the host per step.

Gathering a step's images from the arrays is cheap at 32 x 32 (a few MB a step); augmentation
and normalization run on device (`cutmix_jax.data.augment`).
"""

import dataclasses
from typing import Iterator, Optional

import numpy as np

from cutmix_jax.data import layout as layout_lib

MAX_SIDE = 64  # images of at most this side are held in memory; larger ones stream


@dataclasses.dataclass(frozen=True)
class ArraySplit:
  """One split held in memory.

  Attributes:
    images: uint8 `(N, H, W, C)`.
    labels: int32 `(N,)`.
    boxes: optional int32 `(N, 4)` object boxes `(y1, y2, x1, x2)`, half-open pixel coordinates.
  """

  images: np.ndarray
  labels: np.ndarray
  boxes: Optional[np.ndarray] = None

  def __len__(self) -> int:
    return len(self.labels)

  def take(self, index) -> 'ArraySplit':
    """The examples at `index` (an index array or a slice)."""
    boxes = None if self.boxes is None else self.boxes[index]
    return ArraySplit(self.images[index], self.labels[index], boxes)

  def as_batch(self, with_boxes: bool = False) -> layout_lib.Batch:
    batch = {'image': self.images, 'label': self.labels.astype(np.int32)}
    if with_boxes:
      batch['box'] = self.boxes.astype(np.int32)
    return batch


class InMemoryPipeline:
  """Train and eval batches of two `ArraySplit`s for this process, `(B, ...)` arrays."""

  def __init__(
      self, train: ArraySplit, evaluation: ArraySplit, layout: layout_lib.Layout, seed: int
  ):
    self._train = train
    self._eval = evaluation
    self._layout = layout
    self._seed = seed
    self.num_train, self.num_eval = len(train), len(evaluation)
    self.steps_per_epoch = len(train) // layout.batch_size

  def train_batches(self, start_step: int = 0) -> Iterator[layout_lib.Batch]:
    """Infinite `{'image': uint8, 'label': int32}` batches for steps start_step, ..."""
    return layout_lib.resume_epochs(start_step, self.steps_per_epoch, self._epoch_batches)

  def _epoch_batches(self, epoch: int, first_step: int) -> Iterator[layout_lib.Batch]:
    steps = layout_lib.train_indices(self._layout, self._seed, epoch, len(self._train))
    for indices in steps[first_step:]:
      yield self._train.take(indices).as_batch()

  def eval_batches(self) -> Iterator[layout_lib.Batch]:
    """One padded pass over this process's share of the eval split, with 'mask' (and 'box')."""
    start, stop, num_batches = layout_lib.eval_shard(self._layout, len(self._eval))
    size = self._layout.process_eval_batch_size
    with_boxes = self._eval.boxes is not None
    batches = (
        self._eval.take(slice(lo, min(lo + size, stop))).as_batch(with_boxes)
        for lo in range(start, stop, size)
    )
    return layout_lib.padded_eval_batches(batches, self._layout, num_batches)
