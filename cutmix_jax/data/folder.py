"""Image folders: `ROOT/train/<class>/*.{jpg,jpeg,png}`, optional `ROOT/val/` or `ROOT/test/`.

Classes are the sub-folders of `train/`, sorted by name; a held-out split must have exactly the
same class folders. Files are listed in numeric-aware name order (`9.jpg` before `10.jpg`).
Every file in a class folder must be an image with one of `IMAGE_EXTENSIONS`: nothing is skipped.
The loader decodes images of at most `memory.MAX_SIDE` px once into memory (`read_images`);
larger ones stream from their files: through Grain by index (`FileList.example`, no
TensorFlow), or through tf.data with `data.pipeline=tf` (`FileSource`; TensorFlow is imported
only then).
"""

import concurrent.futures
import dataclasses
import os
import re
from typing import List, Optional, Sequence, Tuple

import numpy as np
import tqdm

from cutmix_jax.data import image_files
from cutmix_jax.data import layout as layout_lib
from cutmix_jax.data import memory
from cutmix_jax.data import source

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')
EVAL_DIRS = ('val', 'test')


@dataclasses.dataclass(frozen=True)
class FileList:
  """Image files of one split: `paths` (str array) and their int32 `labels`, in listing order."""

  paths: np.ndarray
  labels: np.ndarray

  def __len__(self) -> int:
    return len(self.labels)

  def take(self, index) -> 'FileList':
    return FileList(self.paths[index], self.labels[index])

  def example(self, index: int):
    """`(name, encoded bytes or None: read the file `name`, label)` of example `index`."""
    return str(self.paths[index]), None, self.labels[index]


def natural_key(name: str) -> Tuple:
  """Sort key that orders digit runs by value: `img2.png` < `img10.png`."""
  return tuple(
      (0, int(part), '') if part.isdigit() else (1, 0, part)
      for part in re.split(r'(\d+)', name)
      if part
  )


def _list_dir(path: str) -> List[str]:
  return sorted(os.listdir(path), key=natural_key)


def list_split(
    split_dir: str, class_names: Optional[Sequence[str]] = None
) -> Tuple[List[str], FileList]:
  """Lists `split_dir/<class>/<image>`; checks the classes against `class_names` if given."""
  entries = _list_dir(split_dir)
  stray = [e for e in entries if not os.path.isdir(os.path.join(split_dir, e))]
  if stray:
    raise ValueError(
        f'{split_dir} must hold only class folders; found the file '
        f'{os.path.join(split_dir, stray[0])}'
    )
  names = sorted(entries)
  if not names:
    raise ValueError(f'{split_dir} has no class folders; expected {split_dir}/<class>/*.jpg')
  if class_names is not None and names != list(class_names):
    raise ValueError(
        f'the classes of {split_dir} differ from those of train/: missing '
        f'{sorted(set(class_names) - set(names))}, extra {sorted(set(names) - set(class_names))}'
    )
  paths, labels = [], []
  for label, name in enumerate(names):
    class_dir = os.path.join(split_dir, name)
    files = _list_dir(class_dir)
    if not files:
      raise ValueError(
          f'class folder {class_dir} is empty; expected images ' f'({", ".join(IMAGE_EXTENSIONS)})'
      )
    for file in files:
      if not file.lower().endswith(IMAGE_EXTENSIONS):
        raise ValueError(
            f'{os.path.join(class_dir, file)} is not an image file; class folders '
            f'may hold only {", ".join(IMAGE_EXTENSIONS)} files'
        )
    paths += [os.path.join(class_dir, f) for f in files]
    labels += [label] * len(files)
  return names, FileList(np.array(paths, dtype=object), np.array(labels, np.int32))


def scan(root: str) -> Tuple[List[str], FileList, Optional[FileList]]:
  """Lists a dataset folder: `(class_names, train, eval or None)`; eval from val/ else test/."""
  if not os.path.isdir(root):
    raise FileNotFoundError(f'dataset folder {root} does not exist')
  train_dir = os.path.join(root, 'train')
  if not os.path.isdir(train_dir):
    raise FileNotFoundError(
        f'{root} has no train/ folder; expected {root}/train/<class>/*.jpg '
        'and optionally val/ or test/ with the same classes'
    )
  class_names, train = list_split(train_dir)
  for eval_dir in (os.path.join(root, d) for d in EVAL_DIRS):
    if os.path.isdir(eval_dir):
      return class_names, train, list_split(eval_dir, class_names)[1]
  return class_names, train, None


def read_images(files: FileList, shape: Tuple[int, int], desc: str) -> np.ndarray:
  """Decodes all files into one uint8 `(N, H, W, 3)` array, in parallel, with a progress bar.

  Every image must have the `(H, W)` of `shape`; the first that does not raises ValueError.
  """
  images = np.empty((len(files),) + tuple(shape) + (3,), np.uint8)

  def read_into(index: int) -> None:
    image = image_files.decode(files.paths[index])
    if image.shape[:2] != tuple(shape):
      raise ValueError(
          f'{files.paths[index]} is {image.shape[0]}x{image.shape[1]}; all images '
          f'of an in-memory folder dataset must be {shape[0]}x{shape[1]}'
      )
    images[index] = image

  workers = min(32, 2 * (os.cpu_count() or 1))
  with concurrent.futures.ThreadPoolExecutor(workers) as pool:
    for _ in tqdm.tqdm(
        pool.map(read_into, range(len(files))),
        total=len(files),
        desc=desc,
        unit='img',
        mininterval=1.0,
    ):
      pass
  return images


def _tf():
  """TensorFlow, imported on first use: only streamed (large-image) folders need it."""
  from cutmix_jax.data.tensorflow_cpu import tf  # pylint: disable=g-import-not-at-top

  return tf


@dataclasses.dataclass(frozen=True)
class FileSource:
  """Image files of a folder dataset for `streaming.StreamingPipeline`; each process reads its
  slice of every global batch."""

  train: FileList
  evaluation: FileList
  layout: layout_lib.Layout
  seed: int

  @staticmethod
  def read(key):
    return _tf().io.read_file(key)

  def train_epoch(self, epoch: int):
    """`(tf dataset of (path, label), paths)` for this process in the order of `epoch`."""
    order = layout_lib.train_indices(self.layout, self.seed, epoch, len(self.train))
    return self._examples(self.train.take(order.ravel()))

  def eval_examples(self):
    """`(tf dataset of (path, label), paths)` of this process's contiguous eval share."""
    start, stop, _ = layout_lib.eval_shard(self.layout, len(self.evaluation))
    return self._examples(self.evaluation.take(slice(start, stop)))

  @staticmethod
  def _examples(files: FileList):
    paths = files.paths.astype(str)
    return _tf().data.Dataset.from_tensor_slices((paths, files.labels)), paths


def _common_side(size: Tuple[int, int], *splits: Optional[FileList]) -> int:
  """The side that decides memory or streaming, whatever file sorts first: images of at most
  `memory.MAX_SIDE` px that all have the first one's size stay in memory; a set with any larger
  image streams (each resized). Small sets read every header (about a second for CIFAR's
  60,000 files) to know.

  Raises:
    ValueError: small images of different sizes (memory needs one), naming one.
  """
  if max(size) > memory.MAX_SIDE:
    return max(size)
  odd = None
  for files in splits:
    for path in [] if files is None else files.paths:
      other = image_files.header_size(path)
      if max(other) > memory.MAX_SIDE:
        return max(other)
      if other != size and odd is None:
        odd = (path, other)
  if odd is not None:
    path, (height, width) = odd
    raise ValueError(
        f'{path} is {height}x{width}; all images of an in-memory folder dataset must be '
        f'{size[0]}x{size[1]} (the size of the first)'
    )
  return max(size)


def list_source(root: str, config) -> source.Listing:
  """The `folder:ROOT` source: its files, which every split reads at the size of the first."""
  del config
  class_names, train, evaluation = scan(root)
  size = image_files.header_size(train.paths[0])
  return source.Listing(
      class_names,
      train,
      evaluation,
      image_side=_common_side(size, train, evaluation),
      read=lambda files, name: memory.ArraySplit(
          read_images(files, size, f'decoding {name}'), files.labels
      ),
      stream=FileSource,
      pipelines=('grain', 'tf'),
  )
