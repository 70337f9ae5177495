"""The object the training loop gets (`Dataset`), and which examples evaluate a run.

A `Dataset` holds the facts of a loaded dataset, its device preprocessing and the host pipeline
that yields its batches; the sizes and the batches come from the pipeline itself.
"""

import dataclasses
import functools
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, TypeVar

from absl import logging
import numpy as np

from cutmix_jax.data import augment
from cutmix_jax.data import layout as layout_lib
from cutmix_jax.data import memory

Split = TypeVar('Split')  # anything with `labels` and `take(indices)`


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A loaded dataset, ready for a pmapped train step.

  Attributes:
    class_names: the K class names, in label order.
    image_shape: `(H, W, C)` of the images the model sees.
    has_boxes: whether eval batches carry object boxes under 'box'.
    mean: per-channel mean used by normalization, on the [0, 1] scale.
    std: per-channel standard deviation used by normalization, on the [0, 1] scale.
    train_preprocess: pure jittable `(rng, images (B, H, W, C)) -> float32 (B, H, W, C)`, to
      run on device inside the train step (augmentation + normalization, or just a cast).
    eval_preprocess: pure jittable `images -> float32 images`, for the eval step.
    pipeline: the host pipeline (`memory.InMemoryPipeline` or `streaming.StreamingPipeline`):
      `num_train`, `num_eval`, `steps_per_epoch` (`num_train // batch_size`; the remainder of
      an epoch is dropped) and the batches.
  """

  class_names: List[str]
  image_shape: Tuple[int, int, int]
  has_boxes: bool
  mean: Tuple[float, ...]
  std: Tuple[float, ...]
  train_preprocess: Callable
  eval_preprocess: Callable
  pipeline: object

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
) -> Dataset:
  """An in-memory dataset; normalization `stats` default to those of the train images."""
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
          augment.memory_train_preprocess, mean=mean, std=std, pad=pad
      ),
      eval_preprocess=functools.partial(augment.memory_eval_preprocess, mean=mean, std=std),
      pipeline=memory.InMemoryPipeline(train, evaluation, layout, seed),
  )


def from_generator(
    generate: Callable[[int, int], memory.ArraySplit],
    data_seed: int,
    class_names: Sequence[str],
    source: str,
    config,
    layout: layout_lib.Layout,
    seed: int,
) -> Dataset:
  """A generated source (`shapes`, `textures`) of a `loader.DataConfig`, held in memory.

  `generate(num_examples, seed)` draws the train and the test split from independent streams of
  `data_seed`, so the images are the same whatever the training seed and the split sizes do not
  change each other's images.
  """
  train, test = (
      generate(size, layout_lib.derived_seed(data_seed, stream))
      for stream, size in enumerate((config.synthetic_num_train, config.synthetic_num_test))
  )
  train, test = choose_splits(train, test, config, class_names, source)
  return from_arrays(train, test, class_names, layout, seed)


def streamed(pipeline, class_names: Sequence[str]) -> Dataset:
  """A dataset streamed through tf.data (`streaming.StreamingPipeline`)."""
  _check_sizes(pipeline.num_train, pipeline.num_eval, pipeline.layout)
  return Dataset(
      class_names=list(class_names),
      image_shape=(pipeline.image_size, pipeline.image_size, 3),
      has_boxes=False,
      mean=tuple(pipeline.mean),
      std=tuple(pipeline.std),
      train_preprocess=augment.streamed_train_preprocess,
      eval_preprocess=augment.streamed_eval_preprocess,
      pipeline=pipeline,
  )


def _members_by_class(
    labels: np.ndarray, class_names: Sequence[str], at_least: int, why: str, where: str = ''
) -> List[np.ndarray]:
  """The example indices of each class, in order; a class with fewer than `at_least` stops."""
  groups = []
  for label, name in enumerate(class_names):
    members = np.flatnonzero(labels == label)
    if len(members) < at_least:
      raise ValueError(f'{where}class {name!r} has {len(members)} training examples; {why}')
    groups.append(members)
  return groups


def holdout_indices(
    labels: np.ndarray, per_class: int, class_names: Sequence[str]
) -> Tuple[np.ndarray, np.ndarray]:
  """Splits example indices into `(kept, held_out)`: the LAST `per_class` examples of each class.

  "Last" is in the order of `labels` (for folders, numeric-aware file-name order), so the split
  does not depend on any seed. Every class must keep at least one training example.
  """
  why = f'holding out {per_class} per class needs at least {per_class + 1}'
  groups = _members_by_class(labels, class_names, per_class + 1, why)
  held_out = np.sort(np.concatenate([members[len(members) - per_class :] for members in groups]))
  kept = np.setdiff1d(np.arange(len(labels)), held_out)
  return kept, held_out


def first_per_class(split: Split, per_class: int, class_names: Sequence[str], source: str) -> Split:
  """The first `per_class` examples of each class, in their order.

  Small-data regimes train on a fixed subset that no seed changes (`data.train_per_class`).
  """
  why = f'train_per_class={per_class} needs that many'
  groups = _members_by_class(split.labels, class_names, per_class, why, where=f'{source}: ')
  return split.take(np.sort(np.concatenate([members[:per_class] for members in groups])))


def choose_splits(
    train: Split,
    evaluation: Optional[Split],
    config,
    class_names: Sequence[str],
    source: str,
) -> Tuple[Split, Split]:
  """Returns `(train, eval)` as a `loader.DataConfig` asks.

  Eval is a hold-out of the last `config.holdout_per_class` train examples of each class if > 0
  (carved even when the dataset has its own held-out split, so that hyper-parameters can be tuned
  without touching it; the choice is logged), else the given split. Train is then cut to its
  first `config.train_per_class` examples of each class if > 0; the two never overlap.
  """
  train, evaluation = _eval_split(train, evaluation, config.holdout_per_class, class_names, source)
  if config.train_per_class:
    train = first_per_class(train, config.train_per_class, class_names, source)
    logging.warning(
        '%s: training on the first %d examples of each class (%d in all; data.train_per_class)',
        source,
        config.train_per_class,
        len(train),
    )
  return train, evaluation


def _eval_split(
    train: Split,
    evaluation: Optional[Split],
    per_class: int,
    class_names: Sequence[str],
    source: str,
) -> Tuple[Split, Split]:
  """`(train, eval)`: a hold-out of `per_class` per class if > 0, else the given eval split."""
  if per_class > 0:
    kept, held_out = holdout_indices(train.labels, per_class, class_names)
    logging.warning(
        '%s: evaluating on the last %d training examples of each class (%d in all), '
        'training on the other %d',
        source,
        per_class,
        len(held_out),
        len(kept),
    )
    return train.take(kept), train.take(held_out)
  if evaluation is None:
    raise ValueError(
        f'{source} has no held-out split (val/ or test/); set '
        'data.holdout_per_class=N to evaluate on the last N training images per '
        'class'
    )
  return train, evaluation
