"""The Grain pipeline for large images: no TensorFlow, random access, worker processes.

The train order is the one of every pipeline here (`layout.train_indices`: one permutation per
`(seed, epoch)`, each process reading its slice of every global batch), and each example is
augmented by `host_preprocess` with a NumPy generator seeded by `(seed, epoch, its position in the
epoch's global order)`. An example's pixels therefore depend on neither the process count nor
where a run resumed: a run resumed at step s sees exactly the batches of an uninterrupted run,
and two processes together read exactly the global batch one process reads. Grain reads the
examples of a batch in parallel (threads, or `workers` processes that decode beside the train
step) and keeps their order.
"""

import os
from typing import Iterator

from absl import flags
import grain
import numpy as np

from cutmix_jax.data import host_preprocess
from cutmix_jax.data import layout as layout_lib


def reading_threads(workers: int) -> int:
  """Threads per reading process: this host's cores shared among the processes that read (more
  threads than cores cost CPU time in switches and the GIL: 0.68x the images per core at 16)."""
  cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
  return max(1, (cores or 1) // max(1, workers))


class GrainPipeline:
  """Train and eval batches of augmented uint8 images, `(D, B/D, image_size, image_size, 3)`.

  Args:
    files: a `folder.FileSource` (its `train` and `evaluation` file lists).
    layout: batch sizes and process / device layout.
    seed: seed of the example order and the augmentation.
    image_size: side of the square images the model sees.
    workers: Grain worker processes that read and decode; 0: threads of this process.
  """

  def __init__(self, files, layout: layout_lib.Layout, seed: int, image_size: int, workers: int):
    self._train, self._evaluation = files.train, files.evaluation
    self.layout = layout
    self._seed = seed
    self.image_size = image_size
    self._workers = workers
    self.num_train = len(files.train)
    self.num_eval = len(files.evaluation)
    self.steps_per_epoch = self.num_train // layout.batch_size

  def train_batches(self, start_step: int = 0) -> Iterator[layout_lib.Batch]:
    """Infinite `{'image': uint8, 'label': int32}` batches for steps start_step, ..."""
    return layout_lib.resume_epochs(start_step, self.steps_per_epoch, self._epoch_batches)

  def _epoch_batches(self, epoch: int, first_step: int) -> Iterator[layout_lib.Batch]:
    order = layout_lib.train_indices(self.layout, self._seed, epoch, self.num_train)
    size, paths, labels = self.layout.process_batch_size, self._train.paths, self._train.labels
    offset = self.layout.process_index * size  # this process's slice of each global batch

    def example(flat: int):
      step, row = divmod(flat, size)
      index = order[step, row]
      position = step * self.layout.batch_size + offset + row
      rng = np.random.default_rng((self._seed, epoch, position))
      image = host_preprocess.train_image(str(paths[index]), rng, self.image_size)
      return {'image': image, 'label': np.int32(labels[index])}

    examples = grain.MapDataset.range(first_step * size, self.steps_per_epoch * size)
    yield from self._batches(examples.map(example), size)

  def eval_batches(self) -> Iterator[layout_lib.Batch]:
    """One padded pass over this process's eval share, with 'mask'."""
    start, stop, num_batches = layout_lib.eval_shard(self.layout, self.num_eval)
    paths, labels = self._evaluation.paths, self._evaluation.labels
    example = lambda index: {
        'image': host_preprocess.eval_image(str(paths[index]), self.image_size),
        'label': np.int32(labels[index]),
    }
    batches = self._batches(
        grain.MapDataset.range(start, stop).map(example),
        self.layout.process_eval_batch_size,
        split=False,
    )
    return layout_lib.padded_eval_batches(batches, self.layout, num_batches)

  def _batches(self, examples, size: int, split: bool = True) -> Iterator[layout_lib.Batch]:
    batches = examples.batch(size, drop_remainder=split).to_iter_dataset(
        grain.ReadOptions(num_threads=reading_threads(self._workers), prefetch_buffer_size=2 * size)
    )
    if self._workers:
      if not flags.FLAGS.is_parsed():  # Grain's workers read absl flags; a notebook has none
        flags.FLAGS(['cutmix_jax'], known_only=True)
      batches = batches.mp_prefetch(grain.MultiprocessingOptions(num_workers=self._workers))
    iterator = iter(batches)
    while True:
      try:
        batch = next(iterator)
      except StopIteration:
        return
      except ValueError as error:  # an unreadable file: the line that names it, without the
        raise ValueError(str(error).splitlines()[0]) from None  # notes Grain appends
      yield layout_lib.split_for_devices(batch, self.layout.local_device_count) if split else batch
