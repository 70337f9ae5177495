"""The Grain pipeline for large images: no TensorFlow, random access, worker processes.

The train order is the one of every pipeline here (`layout.train_indices`: one permutation per
`(seed, epoch)`, each process reading its slice of every global batch), and each example is
augmented by `host_preprocess` with a NumPy generator seeded by `(seed, epoch, its position in the
epoch's global order)`. An example's pixels therefore depend on neither the process count nor
where a run resumed: a run resumed at step s sees exactly the batches of an uninterrupted run,
and two processes together read exactly the global batch one process reads. Grain makes the
batches (in train, each device's share of one) in parallel (threads, or `workers` processes that
decode beside the train step) and keeps their order.
"""

import os
from typing import Iterator

from absl import flags
import grain
import numpy as np

from cutmix_jax.data import augment
from cutmix_jax.data import host_preprocess
from cutmix_jax.data import image_files
from cutmix_jax.data import layout as layout_lib


def reading_threads(workers: int) -> int:
  """Threads per reading process: this host's cores shared among the processes that read (more
  threads than cores cost CPU time in switches and the GIL: 0.68x the images per core at 16)."""
  cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
  return max(1, (cores or 1) // max(1, workers))


class GrainPipeline:
  """Train and eval batches of augmented uint8 images, `(B, image_size, image_size, 3)`.

  Args:
    files: its `train` and `evaluation` splits read by index (`example(i)`): a
      `folder.FileSource`, or a `tfds_source.TfdsSource` of an ArrayRecord dataset.
    layout: batch sizes and process / device layout.
    seed: seed of the example order and the augmentation.
    image_size: side of the square images the model sees.
    workers: Grain worker processes that read and decode; 0: threads of this process.
    interpolation: the resize's resampling, a name of `host_preprocess.RESAMPLING`.
    eval_crop_fraction: side of eval's centre square, a fraction of the shorter side.
  """

  def __init__(
      self,
      files,
      layout: layout_lib.Layout,
      seed: int,
      image_size: int,
      workers: int,
      interpolation: str = 'bilinear',
      eval_crop_fraction: float = augment.EVAL_CROP_FRACTION,
  ):
    self._train, self._evaluation = files.train, files.evaluation
    self.layout = layout
    self._seed = seed
    self.image_size = image_size
    self._workers = workers
    self._interpolation = interpolation
    self._eval_crop_fraction = eval_crop_fraction
    self.num_train = len(files.train)
    self.num_eval = len(files.evaluation)
    self.steps_per_epoch = self.num_train // layout.batch_size

  def train_batches(self, start_step: int = 0) -> Iterator[layout_lib.Batch]:
    """Infinite `{'image': uint8, 'label': int32}` batches for steps start_step, ..."""
    return layout_lib.resume_epochs(start_step, self.steps_per_epoch, self._epoch_batches)

  def _epoch_batches(self, epoch: int, first_step: int) -> Iterator[layout_lib.Batch]:
    order = layout_lib.train_indices(self.layout, self._seed, epoch, self.num_train)
    # A step's rows are read as one share a device (shares read in parallel), then joined.
    shares = self.layout.local_device_count
    rows = self.layout.process_batch_size // shares
    offset = self.layout.process_index * self.layout.process_batch_size  # this process's slice

    def share_of_step(flat: int) -> layout_lib.Batch:
      step, share = divmod(flat, shares)
      first = step * self.layout.batch_size + offset + share * rows  # in the epoch's order
      image = lambda name, data, row: host_preprocess.train_image(
          name,
          np.random.default_rng((self._seed, epoch, first + row)),
          self.image_size,
          data,
          self._interpolation,
      )
      return self._read(self._train, order[step, share * rows : (share + 1) * rows], image)

    flat = grain.MapDataset.range(first_step * shares, self.steps_per_epoch * shares)
    yield from self._iterate(flat.map(share_of_step).batch(shares).map(_joined))

  def eval_batches(self) -> Iterator[layout_lib.Batch]:
    """One padded pass over this process's eval share, with 'mask'."""
    start, stop, num_batches = layout_lib.eval_shard(self.layout, self.num_eval)
    size = self.layout.process_eval_batch_size
    image = lambda name, data, _: host_preprocess.eval_image(
        name, self.image_size, data, self._interpolation, self._eval_crop_fraction
    )
    batch = lambda first: self._read(
        self._evaluation, np.arange(first, min(first + size, stop)), image
    )
    batches = self._iterate(grain.MapDataset.range(start, stop, size).map(batch))
    return layout_lib.padded_eval_batches(batches, self.layout, num_batches)

  def _read(self, files, indices: np.ndarray, image) -> layout_lib.Batch:
    """The examples `indices` of `files`, the k-th image `image(name, data, k)`, written into one
    array (a Grain element per batch or device share: 1.74 against 1.78-1.95 ms of CPU per
    image for an element per image, which Grain then stacks)."""
    images = np.empty((len(indices), self.image_size, self.image_size, 3), np.uint8)
    labels = np.empty(len(indices), np.int32)
    for row, index in enumerate(indices):
      name, data, labels[row] = files.example(index)
      images[row] = image(name, data, row)
    return {'image': images, 'label': labels}

  def _iterate(self, elements) -> Iterator[layout_lib.Batch]:
    threads = reading_threads(self._workers)
    elements = elements.to_iter_dataset(
        grain.ReadOptions(num_threads=threads, prefetch_buffer_size=2 * threads)
    )
    if self._workers:
      if not flags.FLAGS.is_parsed():  # Grain's workers read absl flags; a notebook has none
        flags.FLAGS(['cutmix_jax'], known_only=True)
      elements = elements.mp_prefetch(grain.MultiprocessingOptions(num_workers=self._workers))
    iterator = iter(elements)
    while True:
      try:
        yield next(iterator)
      except StopIteration:
        return
      except ValueError as error:  # an unreadable file: the line that names it, without the
        line = str(error).splitlines()[0]  # notes Grain appends
        if line.startswith('cannot decode image file'):
          raise image_files.UnreadableImageError(line) from None
        raise ValueError(line) from None


def _joined(shares: layout_lib.Batch) -> layout_lib.Batch:
  """A step's shares stacked by Grain `(shares, rows, ...)` as one batch of their rows in order."""
  return {name: value.reshape((-1,) + value.shape[2:]) for name, value in shares.items()}
