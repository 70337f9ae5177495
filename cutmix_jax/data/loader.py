"""`load_dataset`: a dataset assembled the same way from whichever source `DataConfig` names.

Sources (`SOURCE_FORMS`, one module each, which lists and reads: `source.Listing`):
`cifar10_mini` (real CIFAR-10 images shipped with the package; `cifar10_mini.py`), `shapes` and
`textures` (synthetic, generated in seconds; `shapes.py`, `textures.py`), `folder:PATH` (an
image folder; `folder.py`) and `tfds:NAME[:VERSION]` (TensorFlow Datasets; `tfds_source.py`).
Here, once for all of them: the split policy (`splits.choose`), then images of at most
`memory.MAX_SIDE` px are held in memory as uint8 and augmented on device, larger ones stream:
a folder or a tfds source prepared as ArrayRecord through Grain (`grain_pipeline`, no
TensorFlow for folders), another tfds source (or either with `pipeline='tf'`) through
tf.data. TensorFlow is imported only when a tfds source or tf.data needs it.
"""

import dataclasses
import importlib
from typing import Callable, Dict, Tuple

import numpy as np

from cutmix_jax import extras
from cutmix_jax.data import augment
from cutmix_jax.data import cifar10_mini
from cutmix_jax.data import dataset as dataset_lib
from cutmix_jax.data import folder
from cutmix_jax.data import layout as layout_lib
from cutmix_jax.data import memory
from cutmix_jax.data import shapes
from cutmix_jax.data import source as source_lib
from cutmix_jax.data import splits
from cutmix_jax.data import textures
from cutmix_jax.data import train_augment

SOURCE_FORMS = ('cifar10_mini', 'shapes', 'textures', 'folder:PATH', 'tfds:NAME[:VERSION]')
_BUILT_IN = ('cifar10_mini', 'shapes', 'textures')  # sources without an argument
PIPELINES = ('', 'grain', 'tf')  # of large images; '': the source's own


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """What a run reads: the fields of `config.data` (`DataConfig(**config.data)`).

  Attributes:
    source: `cifar10_mini`, `shapes`, `textures`, `folder:PATH` or `tfds:NAME[:VERSION]` (see
      `SOURCE_FORMS`).
    tfds_dir: TFDS data directory ('' = TFDS's default); tfds sources only.
    holdout_per_class: if > 0, evaluate on the last N training examples of each class instead
      of the held-out split (needed for a folder without val/ or test/).
    train_per_class: if > 0, train on the first N training examples of each class only (after
      the hold-out); not for streamed tfds datasets.
    image_size: side of the square images of streamed (large-image) datasets; in-memory
      datasets keep their own size.
    synthetic_num_train: train split size of a generated source (`shapes`, `textures`).
    synthetic_num_test: test split size of a generated source.
    pipeline: how a source of large images streams: 'grain' (`grain_pipeline`, no TensorFlow
      for folders), 'tf' (`streaming`, tf.data), or '' for the source's own (Grain for
      `folder:` and for `tfds:` datasets prepared as ArrayRecord, tf.data for other `tfds:`).
    workers: Grain's worker processes that read and decode (0: threads of the train process).
    rand_augment: timm's RandAugment string (DeiT: 'rand-m9-mstd0.5-inc1'), run on device on
      the train images; '': none.
    three_augment: DeiT III's 3-Augment on the train images (on device; not with rand_augment).
    random_erasing: probability of timm's random erasing of a train image (DeiT: 0.25).
    repeated_augmentation: each train example appears this many times in a row in the train
      order, each time augmented anew, on different devices (DeiT's repeated augmentation: 3);
      an epoch keeps its length, so it sees 1/this of the examples.
    interpolation: 'bilinear' or 'bicubic' (DeiT): the resize of streamed images and the
      resampling of RandAugment's geometric ops.
    eval_crop_fraction: streamed eval images are the centre square of this fraction of their
      shorter side (timm's crop_pct: 224/256 = 0.875; DeiT III: 1.0), resized to image_size.
  """

  source: str = 'cifar10_mini'
  tfds_dir: str = ''
  holdout_per_class: int = 0
  train_per_class: int = 0
  image_size: int = 224
  synthetic_num_train: int = 10000
  synthetic_num_test: int = 2000
  pipeline: str = ''
  workers: int = 0
  rand_augment: str = ''
  three_augment: bool = False
  random_erasing: float = 0.0
  repeated_augmentation: int = 1
  interpolation: str = 'bilinear'
  eval_crop_fraction: float = augment.EVAL_CROP_FRACTION

  def __post_init__(self):
    check_source_name(self.source)
    self.train_extras()
    if not 0 < self.eval_crop_fraction <= 1:
      raise ValueError(f'eval_crop_fraction must be in (0, 1]; got {self.eval_crop_fraction!r}')
    for name in ('holdout_per_class', 'train_per_class'):
      value = getattr(self, name)
      if not (isinstance(value, (int, np.integer)) and value >= 0):
        raise ValueError(f'{name} must be an integer >= 0; got {value!r}')
    if self.pipeline not in PIPELINES:
      raise ValueError(
          f'unknown pipeline {self.pipeline!r}; valid: {", ".join(map(repr, PIPELINES))}'
      )
    if not (isinstance(self.workers, (int, np.integer)) and self.workers >= 0):
      raise ValueError(f'workers must be an integer >= 0; got {self.workers!r}')
    for name in (
        'image_size',
        'synthetic_num_train',
        'synthetic_num_test',
        'repeated_augmentation',
    ):
      value = getattr(self, name)
      if not (isinstance(value, (int, np.integer)) and value > 0):
        raise ValueError(f'{name} must be a positive integer; got {value!r}')

  def train_extras(self) -> train_augment.TrainAugment:
    """The on-device train augmentations these fields name (`train_augment`)."""
    return train_augment.settings(
        self.rand_augment, self.three_augment, self.random_erasing, self.interpolation
    )


def with_tensorflow(module: str, feature: str):
  """`cutmix_jax.data.<module>`, a module that needs the `tfds` extra (TensorFlow, TFDS).

  TensorFlow comes through `tensorflow_cpu` first, so that it starts quiet and off the GPU
  before TFDS imports it.

  Raises:
    ValueError: one line that names the missing package and the install command.
  """
  try:
    importlib.import_module('cutmix_jax.data.tensorflow_cpu')
    return importlib.import_module(f'cutmix_jax.data.{module}')
  except ImportError as error:
    raise ValueError(
        f'{feature} needs the tfds extra ({error.name or error} is not installed): '
        + extras.install_line('tfds')
    ) from None


def _list_tfds(spec: str, config: DataConfig) -> source_lib.Listing:
  return with_tensorflow('tfds_source', 'a tfds: source').list_source(spec, config)


_SOURCES: Dict[str, Callable[[str, DataConfig], source_lib.Listing]] = {
    'cifar10_mini': cifar10_mini.list_source,
    'shapes': shapes.list_source,
    'textures': textures.list_source,
    'folder': folder.list_source,
    'tfds': _list_tfds,
}


def check_source_name(name: str) -> Tuple[str, str]:
  """Splits `name` into `(prefix, argument)`; raises ValueError for an unknown form."""
  prefix, _, argument = name.partition(':')
  if prefix not in _SOURCES or (name != prefix if prefix in _BUILT_IN else not argument):
    raise ValueError(f'unknown dataset {name!r}; valid forms: {", ".join(SOURCE_FORMS)}')
  return prefix, argument


def load_dataset(
    config: DataConfig, *, batch_size: int, eval_batch_size: int, seed: int
) -> dataset_lib.Dataset:
  """Loads a dataset for training and evaluation on all JAX processes and devices.

  Args:
    config: which data (see `DataConfig`).
    batch_size: GLOBAL train batch size; divisible by `jax.device_count()`.
    eval_batch_size: GLOBAL eval batch size; divisible by `jax.device_count()`.
    seed: non-negative seed of the train order (and of the augmentation of streamed images).

  Returns:
    A `Dataset`.
  """
  prefix, argument = check_source_name(config.source)
  if not isinstance(seed, (int, np.integer)) or seed < 0:
    raise ValueError(f'seed must be a non-negative integer; got {seed!r}')
  layout = layout_lib.Layout.from_jax(
      batch_size, eval_batch_size, repeats=config.repeated_augmentation
  )
  listing = _SOURCES[prefix](argument, config)
  if len(listing.class_names) < 2:
    raise ValueError(
        f'{config.source} has {len(listing.class_names)} class; classification needs 2 or more'
    )
  train, evaluation = splits.choose(
      listing.train, listing.evaluation, config, listing.class_names, config.source
  )
  for split, name in ((train, 'train'), (evaluation, 'eval')):
    if hasattr(split, 'labels'):
      source_lib.check_labels(split, len(listing.class_names), f'{config.source} ({name})')
  if listing.in_memory:
    if listing.read is not None:
      train, evaluation = listing.read(train, 'train'), listing.read(evaluation, 'eval')
    return dataset_lib.from_arrays(
        train, evaluation, listing.class_names, layout, seed, listing.stats, config.train_extras()
    )
  kind = config.pipeline or listing.pipelines[0]
  if kind not in listing.pipelines:
    raise ValueError(
        f'{config.source}: pipeline={kind!r} cannot stream it; valid: '
        f'{", ".join(map(repr, listing.pipelines))} (Grain reads folders and TFDS datasets '
        "prepared as ArrayRecord, tf.data folders and TFDS's TFRecord ones)"
    )
  files = listing.stream(train, evaluation, layout, seed)
  if kind == 'grain':
    grain_pipeline = importlib.import_module('cutmix_jax.data.grain_pipeline')
    pipeline = grain_pipeline.GrainPipeline(
        files,
        layout,
        seed,
        config.image_size,
        config.workers,
        config.interpolation,
        config.eval_crop_fraction,
    )
  else:
    streaming = with_tensorflow(
        'streaming', f'{config.source}: images over {memory.MAX_SIDE} px (the tf.data pipeline)'
    )
    pipeline = streaming.StreamingPipeline(
        files,
        layout,
        seed,
        len(train),
        len(evaluation),
        config.image_size,
        len(listing.class_names),
        config.interpolation,
        config.eval_crop_fraction,
    )
  stats = listing.stats or (augment.IMAGENET_MEAN, augment.IMAGENET_STD)
  return dataset_lib.streamed(pipeline, listing.class_names, stats, config.train_extras())
