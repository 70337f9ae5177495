"""What a model is trained on: one train batch, augmented, then mixed by every mix method."""

import dataclasses
from typing import Dict, List, Tuple

import jax
import numpy as np

from cutmix_jax.ops import dispatch
from cutmix_jax.ops import labels as labels_lib
from cutmix_jax.ops import mix_config
from cutmix_jax.ops import registry


def first_train_images(dataset, count: int) -> Tuple[np.ndarray, np.ndarray]:
  """The first `count` images `(n, H, W, C)` and labels `(n,)` of the run's first train batch."""
  batch = next(iter(dataset.train_batches(0)))
  return batch['image'][:count], batch['label'][:count]


def mixed_examples(
    dataset, mix: mix_config.MixConfig, count: int, seed: int = 0
) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
  """The same augmented train images mixed by each of `registry.METHODS` with probability 1.

  Every method draws from the same key, so CutMix and Mixup pair the same partners with the
  same lam. The other settings (alpha, per-example boxes, Cutout size) are those of `mix`; a
  feature-level run is shown at the input level.

  Args:
    dataset: a `cutmix_jax.data.Dataset`.
    mix: the run's mix settings.
    count: number of images n (at most the train batch size).
    seed: key of augmentation and mixing.

  Returns:
    method -> `(normalized float32 images (n, H, W, C), soft targets (n, K))`.
  """
  images, labels = first_train_images(dataset, count)
  augment_key, mix_key = jax.random.split(jax.random.key(seed))
  augmented = jax.jit(dataset.train_preprocess)(augment_key, images)
  targets = labels_lib.one_hot(labels, dataset.num_classes)
  mix_batch = jax.jit(dispatch.mix_batch, static_argnames='config')
  examples = {}
  for method in registry.METHODS:  # CutMix shown without its switch to Mixup
    settings = mix.for_method(method, prob=1.0, level='input')
    if method == 'cutmix':
      own = dataclasses.replace(settings.sections['cutmix'], mixup_prob=0.0)
      settings = settings.for_method(method, cutmix=own)
    mixed, mixed_targets = mix_batch(mix_key, augmented, targets, config=settings)
    examples[method] = (np.asarray(mixed), np.asarray(mixed_targets))
  return examples


def pair_notes(clean: np.ndarray, mixed: np.ndarray, targets: np.ndarray) -> List[str]:
  """Why a mixed image kept a one-class target: '' if it did not, else 'self-pair' (unchanged up
  to rounding: its partner was itself) or 'same class' (its partner had its class)."""
  one_class = np.max(targets, axis=1) > 0.995
  gap = np.abs(np.asarray(clean, np.float32) - np.asarray(mixed, np.float32))
  unchanged = np.max(gap, axis=tuple(range(1, gap.ndim))) < 1e-3
  return [
      ('self-pair' if same else 'same class') if single else ''
      for single, same in zip(one_class, unchanged)
  ]
