"""`tfds:NAME[:VERSION]`: TensorFlow Datasets image classification sets.

Any builder with an `image` Image feature and a `label` ClassLabel feature, a `train` split and
a `validation` or `test` split (validation first: some sets, like imagenet2012, keep test labels
hidden). Images of a static size of at most 64 px (cifar10, cifar100, ...) are read whole into
memory; others stream. A dataset prepared as ArrayRecord (`file_format='array_record'`) reads
any example by index through TFDS's data source (`StreamedSplit.example`), so the Grain pipeline
streams it, as a folder; else (TFRecord) through tf.data (`TfdsSource`), each process reading
its own part of every split (`tfds.split_for_jax_process`).
"""

import dataclasses
import difflib
from typing import Optional, Sequence

import numpy as np
import requests
import tensorflow_datasets as tfds

from cutmix_jax.data import augment
from cutmix_jax.data import layout as layout_lib
from cutmix_jax.data import memory
from cutmix_jax.data import source
from cutmix_jax.data.tensorflow_cpu import tf

EVAL_SPLITS = ('validation', 'test')
CIFAR_NAMES = ('cifar10', 'cifar100')
_SHUFFLE_BUFFER = 16_384


def _check_features(builder, spec: str) -> None:
  features = dict(builder.info.features.items())
  if not (
      isinstance(features.get('image'), tfds.features.Image)
      and isinstance(features.get('label'), tfds.features.ClassLabel)
  ):
    raise ValueError(
        f'tfds dataset {spec!r} needs an `image` Image feature and a `label` '
        f'ClassLabel feature; it has {sorted(features.keys())}'
    )
  if 'train' not in builder.info.splits:
    raise ValueError(
        f'tfds dataset {spec!r} has no train split; splits: '
        f'{sorted(builder.info.splits.keys())}'
    )


def _is_array_record(builder) -> bool:
  """Whether the prepared files are ArrayRecord: read by index only (no `as_dataset`)."""
  return builder.info.file_format == tfds.core.FileFormat.ARRAY_RECORD


def _read_split(builder, split: str) -> memory.ArraySplit:
  if _is_array_record(builder):
    records = builder.as_data_source(split)
    examples = [records[i] for i in range(len(records))]
    images = np.stack([example['image'] for example in examples])
    return memory.ArraySplit(images, np.array([example['label'] for example in examples], np.int32))
  arrays = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
  return memory.ArraySplit(arrays['image'], arrays['label'].astype('int32'))


def _examples(dataset):
  return dataset.map(lambda example: (example['image'], example['label']))


@dataclasses.dataclass(frozen=True)
class TfdsSource:
  """A tfds builder's splits: streams of `(encoded image, label)`, this process's part, for
  tf.data (TFRecord); `train` and `evaluation` read by index for Grain (ArrayRecord)."""

  builder: 'tfds.core.DatasetBuilder'
  train: 'StreamedSplit'
  evaluation: 'StreamedSplit'
  layout: layout_lib.Layout
  seed: int

  @staticmethod
  def read(key):
    return key

  def _process_split(self, split: str) -> str:
    return tfds.split_for_jax_process(
        split, process_index=self.layout.process_index, process_count=self.layout.process_count
    )

  def train_epoch(self, epoch: int):
    """`(dataset, None)`: files and examples shuffled from `(seed, epoch, process)`, each
    repeated `layout.repeats` times (`_repeated`)."""
    seed = layout_lib.derived_seed(self.seed, epoch, self.layout.process_index, 1)
    dataset = self.builder.as_dataset(
        split=self._process_split('train'),
        shuffle_files=True,
        decoders={'image': tfds.decode.SkipDecoding()},
        read_config=tfds.ReadConfig(shuffle_seed=seed),
    )
    return self._repeated(_examples(dataset).shuffle(_SHUFFLE_BUFFER, seed=seed)), None

  def _repeated(self, examples):
    """Repeated augmentation on a stream: each process batch of P holds the next ceil(P / r)
    examples r times over, tiled (cut to P), so that with r <= the local device count the copies
    of an example fall on different devices, as `layout.train_indices` deals them."""
    repeats, size = self.layout.repeats, self.layout.process_batch_size
    if repeats == 1:
      return examples
    tiled = lambda keys, labels: (
        tf.tile(keys, [repeats])[:size],
        tf.tile(labels, [repeats])[:size],
    )
    return examples.batch(-(-size // repeats), drop_remainder=True).map(tiled).unbatch()

  def eval_examples(self):
    """`(dataset, None)` of this process's part of the eval split, in order."""
    dataset = self.builder.as_dataset(
        split=self._process_split(self.evaluation.name),
        decoders={'image': tfds.decode.SkipDecoding()},
    )
    return _examples(dataset), None


def _builder(spec: str, tfds_dir: str):
  """`tfds.builder` of `NAME[:VERSION]`; an unknown name raises a one-line ValueError that lists
  up to five close names (TFDS's own message lists every dataset)."""
  try:
    return tfds.builder(spec, data_dir=tfds_dir or None)
  except tfds.core.registered.DatasetNotFoundError:
    name = spec.split(':')[0]
    # without community datasets: listing those reaches for GCS credentials and logs a warning
    known = tfds.list_builders(with_community_datasets=False)
    close = difflib.get_close_matches(name, known, n=5)
    raise ValueError(
        f'unknown TFDS dataset {name!r}; close names: {", ".join(close) or "none"}'
    ) from None


@dataclasses.dataclass(frozen=True)
class StreamedSplit:
  """A TFDS split that streams: its name, size and, prepared as ArrayRecord, its `records` (a
  data source with the images left encoded). No split policy: labels are known only by reading
  every example."""

  name: str
  num_examples: int
  records: Optional[Sequence] = None
  where: str = ''  # the source, which names an example that does not decode

  def __len__(self) -> int:
    return self.num_examples

  def example(self, index: int):
    """`(name, encoded image, label)` of example `index` (ArrayRecord only)."""
    record = self.records[index]
    return f'{self.where} {self.name} example {index}', record['image'], record['label']


def list_source(spec: str, config) -> source.Listing:
  """The `tfds:SPEC` source (`NAME` or `NAME:VERSION`) from `config.tfds_dir`, downloaded and
  prepared first if needed: small images are read whole into memory, others stream."""
  builder = _builder(spec, config.tfds_dir)
  try:
    builder.download_and_prepare()
  except requests.exceptions.RequestException as error:  # no network, after TFDS's retries
    raise OSError(
        f'{builder.name} is not in {builder.data_dir} and could not be downloaded '
        f'({type(error).__name__}); offline, train on the built-in set: '
        '--config.data.source=cifar10_mini'
    ) from error
  _check_features(builder, spec)
  splits = builder.info.splits
  eval_split: Optional[str] = next((s for s in EVAL_SPLITS if s in splits), None)
  class_names = builder.info.features['label'].names
  stats = (augment.CIFAR_MEAN, augment.CIFAR_STD) if builder.name in CIFAR_NAMES else None
  height, width = builder.info.features['image'].shape[:2]
  if height and width and max(height, width) <= memory.MAX_SIDE:
    train = _read_split(builder, 'train')
    evaluation = _read_split(builder, eval_split) if eval_split else None
    return source.Listing(class_names, train, evaluation, max(height, width), stats=stats)
  if eval_split is None:
    raise ValueError(f'tfds:{spec} has no split among {EVAL_SPLITS} to evaluate on')
  indexable = _is_array_record(builder)
  train, evaluation = (
      StreamedSplit(
          name,
          splits[name].num_examples,
          builder.as_data_source(name, decoders={'image': tfds.decode.SkipDecoding()})
          if indexable
          else None,
          f'tfds:{spec}',
      )
      for name in ('train', eval_split)
  )
  stream = lambda train, evaluation, layout, seed: TfdsSource(
      builder, train, evaluation, layout, seed
  )
  return source.Listing(
      class_names,
      train,
      evaluation,
      image_side=0,
      stream=stream,
      stats=stats,
      pipelines=('grain',) if indexable else ('tf',),  # TFDS reads ArrayRecord by index only
  )
