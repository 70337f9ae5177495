"""`load_dataset`: one string names the source; the loader picks the pipeline that fits it.

Sources (`SOURCE_FORMS`): `shapes` (synthetic, generated in seconds), `folder:PATH` (an image
folder) and `tfds:NAME[:VERSION]` (TensorFlow Datasets). Images of at most
`IN_MEMORY_MAX_SIDE` px are held in memory as uint8 and augmented on device; larger ones stream
through tf.data. TensorFlow is imported only when a folder or tfds source needs it.
"""
import dataclasses
from typing import Callable, Dict, Optional, Tuple

from absl import logging
import numpy as np

from cutmix_jax.data import dataset as dataset_lib
from cutmix_jax.data import folder
from cutmix_jax.data import holdout
from cutmix_jax.data import layout as layout_lib
from cutmix_jax.data import memory
from cutmix_jax.data import normalization
from cutmix_jax.data import shapes

SOURCE_FORMS = ('shapes', 'folder:PATH', 'tfds:NAME[:VERSION]')
IN_MEMORY_MAX_SIDE = 64


@dataclasses.dataclass(frozen=True)
class Request:
  """What `load_dataset` was asked for, handed to the source loaders."""
  layout: layout_lib.Layout
  seed: int
  data_dir: Optional[str]
  holdout_per_class: int
  image_size: int
  shapes_num_train: int
  shapes_num_test: int
  in_memory_max_side: int = IN_MEMORY_MAX_SIDE


def _load_shapes(argument: str, request: Request) -> dataset_lib.Dataset:
  del argument
  train, test = shapes.load(request.shapes_num_train, request.shapes_num_test)
  train, test = holdout.choose_eval_split(train, test, request.holdout_per_class,
                                          shapes.CLASS_NAMES, 'shapes')
  return dataset_lib.from_arrays(train, test, shapes.CLASS_NAMES, request.layout, request.seed)


def _load_folder(root: str, request: Request) -> dataset_lib.Dataset:
  class_names, train, evaluation = folder.scan(root)
  train, evaluation = holdout.choose_eval_split(train, evaluation, request.holdout_per_class,
                                                class_names, f'folder:{root}')
  size = folder.image_size(train.paths[0])
  if max(size) <= request.in_memory_max_side:
    logging.info('folder:%s: %dx%d images, decoding them into memory', root, *size)
    arrays = [memory.ArraySplit(folder.read_images(files, size, f'decoding {split}'),
                                files.labels)
              for split, files in (('train', train), ('eval', evaluation))]
    return dataset_lib.from_arrays(*arrays, class_names, request.layout, request.seed)
  from cutmix_jax.data import streaming  # pylint: disable=g-import-not-at-top  (TensorFlow)
  source = streaming.FileSource(train, evaluation, request.layout, request.seed)
  pipeline = streaming.StreamingPipeline(
      source, request.layout, request.seed, len(train), len(evaluation), request.image_size,
      (normalization.IMAGENET_MEAN, normalization.IMAGENET_STD))
  return dataset_lib.streamed(pipeline, class_names)


def _load_tfds(spec: str, request: Request) -> dataset_lib.Dataset:
  from cutmix_jax.data import tfds_source  # pylint: disable=g-import-not-at-top  (TensorFlow)
  return tfds_source.load(spec, request)


_LOADERS: Dict[str, Callable[[str, Request], dataset_lib.Dataset]] = {
    'shapes': _load_shapes,
    'folder': _load_folder,
    'tfds': _load_tfds,
}


def check_source_name(name: str) -> Tuple[str, str]:
  """Splits `name` into `(prefix, argument)`; raises ValueError for an unknown form."""
  prefix, _, argument = name.partition(':')
  if prefix not in _LOADERS or (name != 'shapes' if prefix == 'shapes' else not argument):
    raise ValueError(f'unknown dataset {name!r}; valid forms: {", ".join(SOURCE_FORMS)}')
  return prefix, argument


def load_dataset(name: str, *, batch_size: int, eval_batch_size: int, seed: int,
                 data_dir: Optional[str] = None, holdout_per_class: int = 0,
                 image_size: int = 224, shapes_num_train: int = 20000,
                 shapes_num_test: int = 2000) -> dataset_lib.Dataset:
  """Loads a dataset for training and evaluation on all JAX processes and devices.

  Args:
    name: `shapes`, `folder:PATH` or `tfds:NAME[:VERSION]` (see `SOURCE_FORMS`).
    batch_size: GLOBAL train batch size; divisible by `jax.device_count()`.
    eval_batch_size: GLOBAL eval batch size; divisible by `jax.device_count()`.
    seed: non-negative seed of the train order (and of tf.data augmentation).
    data_dir: tfds data directory (tfds sources only).
    holdout_per_class: if > 0, evaluate on the last N training examples of each class instead
      of the held-out split (needed for a folder without val/ or test/).
    image_size: side of the square images of streamed (large-image) datasets; in-memory
      datasets keep their own size.
    shapes_num_train: train set size of `shapes`.
    shapes_num_test: test set size of `shapes`.

  Returns:
    A `Dataset`.
  """
  prefix, argument = check_source_name(name)
  if not isinstance(seed, (int, np.integer)) or seed < 0:
    raise ValueError(f'seed must be a non-negative integer; got {seed!r}')
  layout = layout_lib.Layout.from_jax(batch_size, eval_batch_size)
  request = Request(layout, seed, data_dir, holdout_per_class, image_size, shapes_num_train,
                    shapes_num_test)
  return _LOADERS[prefix](argument, request)
