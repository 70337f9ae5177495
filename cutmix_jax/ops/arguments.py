"""Checks of what the mixing ops are given: image layout, label forms and hyper-parameters.

Shapes and dtypes are static and always checked. Values (labels, alpha, prob, masks, weights)
follow one rule: a concrete value out of range raises a one-line ValueError; a traced one (under
`jax.jit`, a schedule) cannot raise, so it poisons the labels the op returns with NaN, which no
loss survives (the train loop then stops with its non-finite-loss line). The checks return that
validity: True for a concrete value, a traced bool for a traced one (`poison_labels`).
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


def check_range(name: str, value, low: float, high: float):
  """Raises ValueError if a concrete `value` lies outside `[low, high]`; returns its validity
  (True, or for a traced value the traced `low <= value <= high`)."""
  known = concrete(value)
  if known is None:
    return (low <= value) & (value <= high)
  if not low <= known <= high:
    raise ValueError(f'{name} must be in [{low:g}, {high:g}]; got {known:g}')
  return True


def check_alpha(alpha):
  """Raises ValueError if a concrete `alpha` is not > 0; returns its validity (`check_range`)."""
  known = concrete(alpha)
  if known is None:
    return alpha > 0
  if not known > 0:
    raise ValueError(f'alpha must be > 0 (the Beta(alpha, alpha) parameter); got {known}')
  return True


def check_unit_values(name: str, values):
  """Values in [0, 1] everywhere (a float mask, a label weight): raises ValueError for concrete
  ones outside (or NaN); returns their validity, a traced bool for traced ones."""
  known = concrete_array(values)
  if known is None:
    return jnp.all((values >= 0) & (values <= 1))
  if known.size and not np.all((known >= 0) & (known <= 1)):
    raise ValueError(
        f'{name} must be in [0, 1]; got values from {np.min(known):g} to {np.max(known):g}'
    )
  return True


def nan_unless(values, ok):
  """`values` where `ok` holds, NaN elsewhere; `ok` is True (nothing to do), a traced bool
  scalar, or one per row of `values`."""
  if ok is True:
    return values
  ok = jnp.asarray(ok)
  ok = ok.reshape(ok.shape + (1,) * (jnp.ndim(values) - ok.ndim))
  return jnp.where(ok, values, jnp.nan).astype(values.dtype)


def poison_labels(outputs, *validities):
  """An op's `(images, labels, *extras)` with the labels NaN unless every validity holds: how a
  traced value out of range shows under `jit`."""
  ok = True
  for validity in validities:
    ok = validity if ok is True else ok & validity
  return (outputs[0], nan_unless(outputs[1], ok), *outputs[2:])


def check_static(name: str, value) -> None:
  """Raises TypeError in one line if `value` is traced: shapes and branches depend on it, so under
  `jit` it must be a Python value, which `static_argnames` keeps."""
  if isinstance(value, jax.core.Tracer):
    raise TypeError(
        f'{name} decides shapes or branches, so it cannot be traced: pass it as a Python value '
        f"(under jit: jax.jit(op, static_argnames='{name}'))"
    )


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


def check_label_range(labels, num_classes: int):
  """Raises ValueError if concrete integer labels fall outside `[0, K)`; returns their validity,
  for traced labels one traced bool per label."""
  known = concrete_array(labels)
  if known is None:
    return (labels >= 0) & (labels < num_classes)
  if known.size and not (0 <= known.min() and known.max() < num_classes):
    raise ValueError(
        f'labels must be in [0, {num_classes}); got values from {known.min()} to {known.max()}'
    )
  return True


def class_ids(labels):
  """Labels `(N,)` as class ids: `(ids, validity)`. Integer labels are taken as they are; float
  ones must hold whole numbers (a class id of 2.7 means nothing): a concrete one that does not
  raises ValueError; traced, the validity is one bool per label (`nan_unless`)."""
  labels = jnp.asarray(labels)
  if not jnp.issubdtype(labels.dtype, jnp.floating):
    return labels, True
  known = concrete_array(labels)
  if known is None:
    return labels.astype(jnp.int32), labels == jnp.round(labels)
  fractional = known[known != np.round(known)]
  if fractional.size:
    raise ValueError(
        f'labels (N,) are class ids, and {fractional[0]:g} is not a whole number: pass integer '
        'labels, or soft targets (N, K) to weigh several classes'
    )
  return labels.astype(jnp.int32), True


def soft_targets(labels, batch_size: int, num_classes: Optional[int]) -> jax.Array:
  """Float soft targets `(N, K)` from integer labels `(N,)` (with `num_classes`) or `(N, K)`.

  A traced integer label outside `[0, K)` gives a row of NaN (a concrete one raises).

  Integer `(N, K)` targets are promoted to float32, since mixing must not truncate them.
  """
  shape = jnp.shape(labels)
  check_static('num_classes', num_classes)
  if len(shape) == 1:
    if num_classes is None:
      raise ValueError(
          f'integer labels of shape {shape} need num_classes=K (or pass soft targets (N, K))'
      )
    labels, whole = class_ids(labels)
    valid = check_label_range(labels, num_classes)
    valid = valid if whole is True else whole & valid
    labels = nan_unless(jax.nn.one_hot(labels, num_classes, dtype=jnp.float32), valid)
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
  check_static('size', size)
  if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)) or size < 1:
    raise ValueError(f'size must be a positive integer number of pixels; got {size!r}')
  return int(size)
