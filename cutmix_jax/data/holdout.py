"""Which examples evaluate a run: the dataset's own held-out split, or a hold-out from train."""
from typing import Optional, Sequence, Tuple, TypeVar

from absl import logging
import numpy as np

Split = TypeVar('Split')  # anything with `labels` and `take(indices)`


def holdout_indices(labels: np.ndarray, per_class: int,
                    class_names: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
  """Splits example indices into `(kept, held_out)`: the LAST `per_class` examples of each class.

  "Last" is in the order of `labels` (for folders, numeric-aware file-name order), so the split
  does not depend on any seed. Every class must keep at least one training example.
  """
  held_out = []
  for label, name in enumerate(class_names):
    members = np.flatnonzero(labels == label)
    if len(members) <= per_class:
      raise ValueError(f'class {name!r} has {len(members)} training examples; holding out '
                       f'{per_class} per class needs at least {per_class + 1}')
    held_out.append(members[len(members) - per_class:])
  held_out = np.sort(np.concatenate(held_out))
  kept = np.setdiff1d(np.arange(len(labels)), held_out)
  return kept, held_out


def choose_eval_split(train: Split, evaluation: Optional[Split], per_class: int,
                      class_names: Sequence[str], source: str) -> Tuple[Split, Split]:
  """Returns `(train, eval)`: a hold-out of `per_class` per class if > 0, else the given split.

  A hold-out is carved from train even when the dataset has its own held-out split, so that
  hyper-parameters can be tuned without touching it; the choice is logged.
  """
  if per_class < 0:
    raise ValueError(f'holdout_per_class must be >= 0; got {per_class}')
  if per_class > 0:
    kept, held_out = holdout_indices(train.labels, per_class, class_names)
    logging.warning('%s: evaluating on the last %d training examples of each class (%d in all), '
                    'training on the other %d', source, per_class, len(held_out), len(kept))
    return train.take(kept), train.take(held_out)
  if evaluation is None:
    raise ValueError(f'{source} has no held-out split (val/ or test/); pass '
                     'holdout_per_class=N to evaluate on the last N training images per class')
  return train, evaluation
