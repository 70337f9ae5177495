"""Which examples train and which evaluate: the split policy of `DataConfig`, for every source.

Eval is the source's held-out split, or a hold-out of the last `holdout_per_class` training
examples of each class (carved even when the source has its own held-out split, so that
hyper-parameters can be tuned without touching it; the choice is logged). Train is then cut to
its first `train_per_class` examples of each class. Neither depends on a seed, and the two never
overlap. A split here is anything with int `labels (N,)` and `take(indices)`.
"""

from typing import List, Optional, Sequence, Tuple, TypeVar

from absl import logging
import numpy as np

Split = TypeVar('Split')  # anything with `labels` and `take(indices)`


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


def choose(
    train: Split,
    evaluation: Optional[Split],
    config,
    class_names: Sequence[str],
    source: str,
) -> Tuple[Split, Split]:
  """`(train, eval)` as the `DataConfig` asks (see the module docstring).

  Raises:
    ValueError: a split policy the splits cannot follow (they cannot be indexed, a class is too
      small), or no eval split at all; named after `source`.
  """
  policy = [n for n in ('holdout_per_class', 'train_per_class') if getattr(config, n)]
  if policy and not hasattr(train, 'take'):
    raise ValueError(f'{policy[0]} is not supported for streamed tfds datasets ({source})')
  if config.holdout_per_class > 0:
    kept, held_out = holdout_indices(train.labels, config.holdout_per_class, class_names)
    logging.warning(
        '%s: evaluating on the last %d training examples of each class (%d in all), '
        'training on the other %d',
        source,
        config.holdout_per_class,
        len(held_out),
        len(kept),
    )
    train, evaluation = train.take(kept), train.take(held_out)
  elif evaluation is None:
    raise ValueError(
        f'{source} has no held-out split (val/ or test/); set '
        'data.holdout_per_class=N to evaluate on the last N training images per class'
    )
  if config.train_per_class:
    train = first_per_class(train, config.train_per_class, class_names, source)
    logging.warning(
        '%s: training on the first %d examples of each class (%d in all; data.train_per_class)',
        source,
        config.train_per_class,
        len(train),
    )
  return train, evaluation
