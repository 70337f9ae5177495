"""The tf.data pipeline for large images: decoded and augmented on the host, as uint8.

A source supplies, per epoch, this process's examples in that epoch's order as `(key, label)`
pairs, where `source.read(key)` gives the encoded image (a file path to read, or the bytes
themselves). The pipeline numbers the examples of an epoch, skips those of steps already done
(before reading or decoding them), augments each with stateless ops seeded by
`(seed, epoch, process, position)`, and batches with drop_remainder. So a run resumed at step s
sees exactly the batches of an uninterrupted run.
"""

from typing import Iterator, Optional

import numpy as np

from cutmix_jax.data import augment
from cutmix_jax.data import image_files
from cutmix_jax.data import layout as layout_lib
from cutmix_jax.data import source
from cutmix_jax.data import tf_preprocess
from cutmix_jax.data.tensorflow_cpu import tf

_SCAN_BATCHES = 16  # how far ahead of a failed batch to look for the unreadable file


def _options():
  options = tf.data.Options()
  options.deterministic = True
  options.experimental_optimization.map_parallelization = True
  return options


class StreamingPipeline:
  """Train and eval batches of augmented uint8 images, `(B, image_size, image_size, 3)`.

  Args:
    source: a `folder.FileSource` or `tfds_source.TfdsSource`.
    layout: batch sizes and process / device layout.
    seed: seed of the example order and the augmentation.
    num_train: global number of train examples.
    num_eval: global number of eval examples.
    image_size: side of the square images the model sees.
    num_classes: K; the labels of a source without a listing (a TFDS stream) are checked
      against it batch by batch, on the host (listed splits are checked by the loader).
    interpolation: the resize's resampling, 'bilinear' or 'bicubic'.
    eval_crop_fraction: side of eval's centre square, a fraction of the shorter side.
  """

  def __init__(
      self,
      source,
      layout: layout_lib.Layout,
      seed: int,
      num_train: int,
      num_eval: int,
      image_size: int,
      num_classes: int,
      interpolation: str = 'bilinear',
      eval_crop_fraction: float = augment.EVAL_CROP_FRACTION,
  ):
    self._source = source
    self.layout = layout
    self._seed = seed
    self.num_train = num_train
    self.num_eval = num_eval
    self.image_size = image_size
    self._num_classes = num_classes
    self._interpolation = interpolation
    self._eval_crop_fraction = eval_crop_fraction
    self.steps_per_epoch = num_train // layout.batch_size

  def train_batches(self, start_step: int = 0) -> Iterator[layout_lib.Batch]:
    """Infinite `{'image': uint8, 'label': int32}` batches for steps start_step, ..."""
    return layout_lib.resume_epochs(start_step, self.steps_per_epoch, self._epoch_batches)

  def _epoch_batches(self, epoch: int, first_step: int) -> Iterator[layout_lib.Batch]:
    examples, names = self._source.train_epoch(epoch)
    size = self.layout.process_batch_size
    seed = layout_lib.derived_seed(self._seed, epoch, self.layout.process_index)

    def prepare(position, example):
      key, label = example
      example_seed = tf.stack([tf.constant(seed, tf.int64), position])
      image = tf_preprocess.train_image(
          self._source.read(key), example_seed, self.image_size, self._interpolation
      )
      return {'image': image, 'label': tf.cast(label, tf.int32)}

    dataset = (
        examples.take(self.steps_per_epoch * size)
        .enumerate()
        .skip(first_step * size)
        .map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(size, drop_remainder=True)
    )
    batches = _numpy_batches(dataset, names, first_step * size, size, self._num_classes)
    yield from batches

  def eval_batches(self) -> Iterator[layout_lib.Batch]:
    """One padded pass over this process's eval share, with 'mask'."""
    examples, names = self._source.eval_examples()
    size = self.layout.process_eval_batch_size
    prepare = lambda key, label: {
        'image': tf_preprocess.eval_image(
            self._source.read(key), self.image_size, self._interpolation, self._eval_crop_fraction
        ),
        'label': tf.cast(label, tf.int32),
    }
    dataset = examples.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).batch(size)
    _, _, num_batches = layout_lib.eval_shard(self.layout, self.num_eval)
    return layout_lib.padded_eval_batches(
        _numpy_batches(dataset, names, 0, size, self._num_classes), self.layout, num_batches
    )


def _numpy_batches(
    dataset, names: Optional[np.ndarray], offset: int, batch_size: int, num_classes: int
) -> Iterator[layout_lib.Batch]:
  """Iterates a tf.data pipeline as NumPy; a failure to read or decode names the bad file.

  The failing element is at or after the batch being fetched, so the files from there on are
  decoded again with PIL until the bad one raises a ValueError that names it. Without `names`
  (a stream that was not listed), each batch's labels are checked against `num_classes`.
  """
  iterator = iter(dataset.with_options(_options()).prefetch(tf.data.AUTOTUNE))
  position = offset
  while True:
    try:
      batch = next(iterator)
    except StopIteration:
      return
    except tf.errors.OpError as error:
      if names is not None:
        for path in names[position : position + _SCAN_BATCHES * batch_size]:
          image_files.decode(path)
      raise ValueError(
          f'the input pipeline failed near example {position}: ' f'{error.message}'
      ) from error
    batch = {k: v.numpy() for k, v in batch.items()}
    if names is None:
      source.check_labels(batch['label'], num_classes, f'the stream near example {position}')
    position += batch_size
    yield batch
