"""`cifar10_mini`: 6,000 real CIFAR-10 images shipped inside the package, read without TensorFlow.

CIFAR-10 (Krizhevsky, *Learning Multiple Layers of Features from Tiny Images*, 2009), as the JPEG
copy of its training split (`train/<class>/<n>.jpg`, 5,000 per class): **train** holds the first
100 images of each class (`0000.jpg`-`0099.jpg`, 1,000 in all), **eval** the last 500 of each
class (`4500.jpg`-`4999.jpg`, 5,000 in all); the two never overlap. The JPEG files are those of
the copy byte for byte (`scripts/build_cifar10_mini.py` builds the archive). Both splits are
decoded into memory in about a second; normalization uses the paper's CIFAR constants.
"""

import hashlib
import importlib.resources
import io
import re
import tarfile
from typing import Dict, Tuple

import numpy as np

from cutmix_jax.data import augment
from cutmix_jax.data import image_files
from cutmix_jax.data import memory
from cutmix_jax.data import source

CLASS_NAMES = (
    'airplane',
    'automobile',
    'bird',
    'cat',
    'deer',
    'dog',
    'frog',
    'horse',
    'ship',
    'truck',
)  # CIFAR-10's label order (also the sorted order of the class folders)
SPLITS = ('train', 'eval')
ARCHIVE = importlib.resources.files('cutmix_jax.data') / 'cifar10_mini.tar.gz'
SHA256 = 'bf99dbfc5f637ec533393569fe3c6ac747f5f5d3dc594464a7a7289d1a60c22f'
_MEMBER = re.compile(r'^cifar10_mini/(train|eval)/([a-z]+)/\d+\.jpg$')


def read_archive(path=ARCHIVE) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
  """`{split: (uint8 images (N, 32, 32, 3), int32 labels (N,))}`, in the archive's order.

  Raises:
    ValueError: the file is not the shipped archive (its SHA-256 differs), naming the path.
  """
  with open(path, 'rb') as file:
    content = file.read()
  if hashlib.sha256(content).hexdigest() != SHA256:
    raise ValueError(f'{path} is damaged (its SHA-256 is not the shipped one); reinstall')
  images = {split: [] for split in SPLITS}
  labels = {split: [] for split in SPLITS}
  with tarfile.open(fileobj=io.BytesIO(content), mode='r:gz') as archive:
    for member in archive:
      split, class_name = _MEMBER.match(member.name).groups()
      data = archive.extractfile(member).read()
      images[split].append(image_files.decode(f'{path}:{member.name}', data))
      labels[split].append(CLASS_NAMES.index(class_name))
  return {split: (np.stack(images[split]), np.array(labels[split], np.int32)) for split in SPLITS}


def list_source(argument: str, config) -> source.Listing:
  """The `cifar10_mini` source (`argument` is empty), decoded into memory."""
  del argument, config
  train, evaluation = (memory.ArraySplit(*arrays) for arrays in read_archive().values())
  return source.Listing(
      CLASS_NAMES, train, evaluation, stats=(augment.CIFAR_MEAN, augment.CIFAR_STD)
  )
