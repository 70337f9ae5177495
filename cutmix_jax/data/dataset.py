"""The object the training loop gets: dataset facts, batch iterators and device preprocessing."""
import dataclasses
import functools
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from cutmix_jax.data import augment
from cutmix_jax.data import layout as layout_lib
from cutmix_jax.data import memory
from cutmix_jax.data import normalization


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A loaded dataset, ready for a pmapped train step.

  Attributes:
    num_classes: number of classes K.
    class_names: the K class names, in label order.
    image_shape: `(H, W, C)` of the images the model sees.
    num_train: global number of train examples.
    num_eval: global number of eval examples (each evaluated exactly once per pass).
    steps_per_epoch: `num_train // batch_size` (the remainder of an epoch is dropped).
    has_boxes: whether eval batches carry object boxes under 'box'.
    mean: per-channel mean used by normalization, on the [0, 1] scale.
    std: per-channel standard deviation used by normalization, on the [0, 1] scale.
    train_preprocess: pure jittable `(rng, images (B, H, W, C)) -> float32 (B, H, W, C)`, to
      run on device inside the train step (augmentation + normalization, or just a cast).
    eval_preprocess: pure jittable `images -> float32 images`, for the eval step.
    pipeline: the host pipeline behind `train_batches` and `eval_batches`.
  """
  num_classes: int
  class_names: List[str]
  image_shape: Tuple[int, int, int]
  num_train: int
  num_eval: int
  steps_per_epoch: int
  has_boxes: bool
  mean: Tuple[float, ...]
  std: Tuple[float, ...]
  train_preprocess: Callable
  eval_preprocess: Callable
  pipeline: object

  def train_batches(self, start_step: int = 0) -> Iterator[layout_lib.Batch]:
    """Infinite host batches for steps start_step, start_step + 1, ...

    Each is `{'image': (D, B/D, H, W, C), 'label': int32 (D, B/D)}` with D local devices and B
    the per-process batch; images are uint8 (in-memory sets) or float32 (streamed sets). The
    order depends only on the seed and the epoch, so resuming at a step replays it exactly.
    """
    return self.pipeline.train_batches(start_step)

  def eval_batches(self) -> Iterator[layout_lib.Batch]:
    """One pass over the eval split: 'image', 'label', bool 'mask' (False on padding) and,
    if `has_boxes`, int32 'box' `(D, B/D, 4)` as `(y1, y2, x1, x2)`, half-open pixels."""
    return self.pipeline.eval_batches()


def _check_sizes(num_train: int, num_eval: int, layout: layout_lib.Layout) -> None:
  if num_train < layout.batch_size:
    raise ValueError(f'batch_size={layout.batch_size} is larger than the {num_train} training '
                     'examples')
  if num_eval < 1:
    raise ValueError('the eval split is empty')


def from_arrays(train: memory.ArraySplit, evaluation: memory.ArraySplit,
                class_names: Sequence[str], layout: layout_lib.Layout, seed: int,
                stats: Optional[normalization.Stats] = None) -> Dataset:
  """An in-memory dataset; normalization `stats` default to those of the train images."""
  _check_sizes(len(train), len(evaluation), layout)
  mean, std = stats or normalization.channel_stats(train.images)
  pad = augment.crop_pad_for(train.images.shape[1])
  pipeline = memory.InMemoryPipeline(train, evaluation, layout, seed)
  return Dataset(
      num_classes=len(class_names), class_names=list(class_names),
      image_shape=tuple(train.images.shape[1:]), num_train=len(train),
      num_eval=len(evaluation), steps_per_epoch=pipeline.steps_per_epoch,
      has_boxes=evaluation.boxes is not None, mean=tuple(mean), std=tuple(std),
      train_preprocess=functools.partial(augment.memory_train_preprocess, mean=mean, std=std,
                                         pad=pad),
      eval_preprocess=functools.partial(augment.memory_eval_preprocess, mean=mean, std=std),
      pipeline=pipeline)


def streamed(pipeline, class_names: Sequence[str]) -> Dataset:
  """A dataset streamed through tf.data (`streaming.StreamingPipeline`)."""
  _check_sizes(pipeline.num_train, pipeline.num_eval, pipeline.layout)
  return Dataset(
      num_classes=len(class_names), class_names=list(class_names),
      image_shape=(pipeline.image_size, pipeline.image_size, 3), num_train=pipeline.num_train,
      num_eval=pipeline.num_eval, steps_per_epoch=pipeline.steps_per_epoch, has_boxes=False,
      mean=tuple(pipeline.mean), std=tuple(pipeline.std),
      train_preprocess=augment.streamed_train_preprocess,
      eval_preprocess=augment.streamed_eval_preprocess, pipeline=pipeline)
