"""Checks of what the mixing ops are given: image layout, label forms and hyper-parameters.

Hyper-parameters (alpha, prob, lam) may be traced, as a schedule under `jax.jit` is: only a
concrete value can be checked, so a traced one passes through unchecked. Shapes and dtypes are
always static and always checked.
"""

from typing import Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

CHANNELS = (1, 3, 4)  # the channel counts an image's last axis is expected to have


def concrete(value) -> Optional[float]:
  """`value` as a Python float if it is known at trace time, else None."""
  try:
    return float(value)
  except (jax.errors.ConcretizationTypeError, TypeError):
    return None


def concrete_array(value) -> Optional[np.ndarray]:
  """`value` as a NumPy array if it is known at trace time, else None."""
  try:
    return np.asarray(value)
  except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError, TypeError):
    return None


def check_range(name: str, value, low: float, high: float) -> None:
  """Raises ValueError if a concrete `value` lies outside `[low, high]`."""
  known = concrete(value)
  if known is not None and not low <= known <= high:
    raise ValueError(f'{name} must be in [{low:g}, {high:g}]; got {known:g}')


def check_alpha(alpha) -> None:
  known = concrete(alpha)
  if known is not None and not known > 0:
    raise ValueError(f'alpha must be > 0 (the Beta(alpha, alpha) parameter); got {known}')


def check_images(images) -> Tuple[int, int]:
  """`(H, W)` of NHWC images `(N, H, W, C)` or clips `(N, T, H, W, C)`; raises ValueError else.

  Channel-first input (`(N, C, H, W)` with C in 1, 3, 4 and a last axis that is not) is refused,
  since mixing it would cut boxes across the wrong axes.
  """
  shape = jnp.shape(images)
  if len(shape) not in (4, 5):
    raise ValueError(
        f'images must be NHWC (N, H, W, C) or clips (N, T, H, W, C); got shape {shape}'
    )
  if len(shape) == 4 and shape[1] in CHANNELS and shape[3] not in CHANNELS:
    raise ValueError(
        f'images of shape {shape} look channel-first (N, C, H, W); the ops take NHWC: '
        'pass images.transpose(0, 2, 3, 1)'
    )
  return shape[-3], shape[-2]


def check_label_range(labels, num_classes: int) -> None:
  """Raises ValueError if concrete integer labels fall outside `[0, K)` (under `jit` they cannot
  be checked: they give a zero row)."""
  known = concrete_array(labels)
  if known is not None and known.size and not (0 <= known.min() and known.max() < num_classes):
    raise ValueError(
        f'labels must be in [0, {num_classes}); got values from {known.min()} to {known.max()}'
    )


def soft_targets(labels, batch_size: int, num_classes: Optional[int]) -> jax.Array:
  """Float soft targets `(N, K)` from integer labels `(N,)` (with `num_classes`) or `(N, K)`.

  Integer `(N, K)` targets are promoted to float32, since mixing must not truncate them.
  """
  shape = jnp.shape(labels)
  if len(shape) == 1:
    if num_classes is None:
      raise ValueError(
          f'integer labels of shape {shape} need num_classes=K (or pass soft targets (N, K))'
      )
    check_label_range(labels, num_classes)
    labels = jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)
  elif len(shape) != 2:
    raise ValueError(
        f'labels must be soft targets (N, K) or integer labels (N,); got shape {shape}'
    )
  if labels.shape[0] != batch_size:
    raise ValueError(
        f'labels batch size {labels.shape[0]} differs from images batch size {batch_size}'
    )
  if not jnp.issubdtype(labels.dtype, jnp.floating):
    labels = jnp.asarray(labels, jnp.float32)
  return labels


def check_size(size) -> int:
  """A positive integer number of pixels (Python or NumPy), as int; raises ValueError else."""
  if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)) or size < 1:
    raise ValueError(f'size must be a positive integer number of pixels; got {size!r}')
  return int(size)
