"""Soft targets: integer labels to one-hot rows, with label smoothing applied before mixing."""

import jax
import jax.numpy as jnp

from cutmix_jax.ops import arguments


def check_label_smoothing(smoothing) -> None:
  """Raises ValueError unless `smoothing` is in [0, 1)."""
  if not 0.0 <= smoothing < 1.0:
    raise ValueError(f'label smoothing must be in [0, 1); got {smoothing}')


def one_hot(labels, num_classes: int, smoothing: float = 0.0, dtype=jnp.float32):
  """Integer labels `(N,)` to soft targets `(N, K)`, with optional label smoothing.

  Smoothing spreads `smoothing` uniformly over all K classes: `(1 - s) * onehot + s / K`.
  Apply it before mixing, so that mixing stays linear in the targets. Concrete labels outside
  `[0, K)` raise ValueError (under `jit` they cannot be checked and give a zero row); float
  labels must be whole numbers (`arguments.class_ids`; traced, a fraction gives a NaN row).
  """
  check_label_smoothing(smoothing)
  labels, whole = arguments.class_ids(labels)
  arguments.check_label_range(labels, num_classes)
  targets = jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)
  targets = (1.0 - smoothing) * targets + smoothing / num_classes
  return arguments.nan_unless(targets, whole).astype(dtype)
