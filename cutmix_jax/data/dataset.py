"""The object the training loop gets (`Dataset`): facts, device preprocessing, host pipeline.

Every pipeline yields one image format, uint8 NHWC, whatever the source: in-memory sets their
stored pixels, streamed sets their host-augmented crops. Normalization (and, for in-memory sets,
the paper's crop and flip; for any set the extras of `train_augment`) runs on the accelerator
inside the jitted steps, so no consumer
branches on the dtype and streamed batches move 4x fewer bytes to the device.
"""

import dataclasses
import functools
from typing import Callable, Iterator, List, Optional, Protocol, Sequence, Tuple

from cutmix_jax.data import augment
from cutmix_jax.data import layout as layout_lib
from cutmix_jax.data import memory
from cutmix_jax.data import train_augment


class Pipeline(Protocol):
  """What a host pipeline (`memory.InMemoryPipeline`, `streaming.StreamingPipeline`) offers."""

  num_train: int  # global number of train examples
  num_eval: int  # global number of eval examples
  steps_per_epoch: int  # num_train // batch_size: the remainder of an epoch is dropped

  def train_batches(self, start_step: int = 0) -> Iterator[layout_lib.Batch]:
    """Infinite uint8 train batches for steps start_step, start_step + 1, ..."""

  def eval_batches(self) -> Iterator[layout_lib.Batch]:
    """One padded pass over this process's share of the eval split, with 'mask'."""


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A loaded dataset, ready for a pmapped train step.

  Attributes:
    class_names: the K class names, in label order.
    image_shape: `(H, W, C)` of the images the model sees.
    has_boxes: whether eval batches carry object boxes under 'box'.
    mean: per-channel mean used by normalization, on the [0, 1] scale.
    std: per-channel standard deviation used by normalization, on the [0, 1] scale.
    train_preprocess: pure jittable `(rng, uint8 images (B, H, W, C)) -> float32 (B, H, W, C)`,
      run on device inside the train step (the crop and flip of in-memory sets, normalization).
    eval_preprocess: pure jittable `uint8 images -> float32 inputs` (normalization).
    pipeline: the host pipeline that yields the batches.
  """

  class_names: List[str]
  image_shape: Tuple[int, int, int]
  has_boxes: bool
  mean: Tuple[float, ...]
  std: Tuple[float, ...]
  train_preprocess: Callable
  eval_preprocess: Callable
  pipeline: Pipeline

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  @property
  def num_train(self) -> int:
    return self.pipeline.num_train

  @property
  def num_eval(self) -> int:
    """Global number of eval examples (each evaluated exactly once per pass)."""
    return self.pipeline.num_eval

  @property
  def steps_per_epoch(self) -> int:
    return self.pipeline.steps_per_epoch

  def train_batches(self, start_step: int = 0) -> Iterator[layout_lib.Batch]:
    """Infinite host batches for steps start_step, start_step + 1, ...

    Each is `{'image': uint8 (B, H, W, C), 'label': int32 (B,)}`, B the per-process batch. The
    order depends only on the seed and the epoch, so resuming at a step replays it exactly.
    """
    return self.pipeline.train_batches(start_step)

  def eval_batches(self) -> Iterator[layout_lib.Batch]:
    """One pass over the eval split: 'image', 'label', bool 'mask' (False on padding) and,
    if `has_boxes`, int32 'box' `(B, 4)` as `(y1, y2, x1, x2)`, half-open pixels."""
    return self.pipeline.eval_batches()


def _check_sizes(num_train: int, num_eval: int, layout: layout_lib.Layout) -> None:
  if num_train < layout.batch_size:
    raise ValueError(
        f'batch_size={layout.batch_size} is larger than the {num_train} training ' 'examples'
    )
  if num_eval < 1:
    raise ValueError('the eval split is empty')


def from_arrays(
    train: memory.ArraySplit,
    evaluation: memory.ArraySplit,
    class_names: Sequence[str],
    layout: layout_lib.Layout,
    seed: int,
    stats: Optional[augment.Stats] = None,
    extras: train_augment.TrainAugment = train_augment.TrainAugment(),
) -> Dataset:
  """An in-memory dataset; normalization `stats` default to those of the train images, and
  `extras` are the train augmentations after the crop and flip."""
  _check_sizes(len(train), len(evaluation), layout)
  mean, std = stats or augment.channel_stats(train.images)
  pad = augment.crop_pad_for(train.images.shape[1])
  return Dataset(
      class_names=list(class_names),
      image_shape=tuple(train.images.shape[1:]),
      has_boxes=evaluation.boxes is not None,
      mean=tuple(mean),
      std=tuple(std),
      train_preprocess=functools.partial(
          train_augment.train_preprocess, mean=mean, std=std, pad=pad, extras=extras
      ),
      eval_preprocess=functools.partial(augment.normalize, mean=mean, std=std),
      pipeline=memory.InMemoryPipeline(train, evaluation, layout, seed),
  )


def streamed(
    pipeline,
    class_names: Sequence[str],
    stats: augment.Stats,
    extras: train_augment.TrainAugment = train_augment.TrainAugment(),
) -> Dataset:
  """A dataset streamed by `pipeline` (`grain_pipeline.GrainPipeline` or
  `streaming.StreamingPipeline`: cropped and flipped on the host), normalized on device with
  `stats`, its train images augmented on device with `extras`."""
  _check_sizes(pipeline.num_train, pipeline.num_eval, pipeline.layout)
  mean, std = stats
  return Dataset(
      class_names=list(class_names),
      image_shape=(pipeline.image_size, pipeline.image_size, 3),
      has_boxes=False,
      mean=tuple(mean),
      std=tuple(std),
      train_preprocess=functools.partial(
          train_augment.train_preprocess, mean=mean, std=std, pad=0, extras=extras
      ),
      eval_preprocess=functools.partial(augment.normalize, mean=mean, std=std),
      pipeline=pipeline,
  )
