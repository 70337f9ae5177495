"""What a data source gives the loader (`Listing`): it lists and reads, and decides nothing else.

A source module has one function `list_source(argument, config) -> Listing` (`config` a
`loader.DataConfig`, of which it reads only its own fields). The loader then applies the split
policy (`splits.choose`) and the memory-or-stream choice, the same for every source.
"""

import dataclasses
from typing import Any, Callable, Optional, Sequence, Tuple

import numpy as np

from cutmix_jax.data import augment
from cutmix_jax.data import layout as layout_lib
from cutmix_jax.data import memory


@dataclasses.dataclass(frozen=True)
class Listing:
  """A source's classes and splits, and how their pixels are read.

  Attributes:
    class_names: the K class names, in label order.
    train: the train split: a `memory.ArraySplit`, a list of encoded examples with `labels` and
      `take` (image files), or a handle with only a length (a streamed TFDS split).
    evaluation: the held-out split, of the same kind, or None if the source has none.
    image_side: the largest side of its images; at most `memory.MAX_SIDE` they are held in
      memory, else they stream (`pipelines`). 0: unknown (they stream).
    read: decodes a listed split into a `memory.ArraySplit` (`read(split, name)`, `name` for the
      progress bar); None when the splits are arrays already.
    stream: `stream(train, evaluation, layout, seed)` gives the source of listed splits that
      the streaming pipelines read (`grain_pipeline`, `streaming`); None for a source that only
      holds small images.
    stats: normalization `(mean, std)` on the [0, 1] scale; None: those of the train images in
      memory, the ImageNet constants when streamed.
    pipelines: the pipelines that can stream it, its default first: 'grain' reads splits by
      index (`example(i)`: folders, TFDS's ArrayRecord datasets), 'tf' (tf.data) reads files
      and TFRecord datasets.
  """

  class_names: Sequence[str]
  train: Any
  evaluation: Optional[Any]
  image_side: int = memory.MAX_SIDE
  read: Optional[Callable[[Any, str], memory.ArraySplit]] = None
  stream: Optional[Callable[[Any, Any, layout_lib.Layout, int], Any]] = None
  stats: Optional[augment.Stats] = None
  pipelines: Tuple[str, ...] = ('tf',)

  @property
  def in_memory(self) -> bool:
    return 0 < self.image_side <= memory.MAX_SIDE


def generated(
    generate: Callable[[int, int], memory.ArraySplit],
    data_seed: int,
    class_names: Sequence[str],
    config,
) -> Listing:
  """The listing of a generated source (`shapes`, `textures`) of `config.synthetic_num_*`.

  `generate(num_examples, seed)` draws the train and the test split from independent streams of
  `data_seed`, so the images are the same whatever the training seed and the split sizes do not
  change each other's images.
  """
  train, test = (
      generate(size, layout_lib.derived_seed(data_seed, stream))
      for stream, size in enumerate((config.synthetic_num_train, config.synthetic_num_test))
  )
  return Listing(class_names, train, test)


def check_labels(split, num_classes: int, where: str) -> None:
  """Raises ValueError, in one line naming the first bad example (its file, for a split of
  files), unless every label of `split` (a listed split, or an array of labels) is in
  `[0, num_classes)`.

  The loader checks every listed split once, on the host, before any batch is drawn: every
  batch's labels then are in range (a streamed split is checked batch by batch instead).
  """
  labels = np.asarray(getattr(split, 'labels', split))
  bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
  if not bad.size:
    return
  first = bad[0]
  paths = getattr(split, 'paths', None)
  example = f'{paths[first]}' if paths is not None else f'example {first}'
  more = f' ({bad.size} such labels in all)' if bad.size > 1 else ''
  raise ValueError(
      f'{where}: {example} has label {labels[first]}, outside [0, {num_classes}){more}'
  )
