"""A convolution whose filter gradient XLA:CPU computes several times faster.

XLA:CPU lowers a convolution's filter gradient as a convolution whose window is the whole image
and whose input features are the examples, which it runs 4.5-7.4x slower than PyTorch's CPU
step computes the same gradient (docs/PERFORMANCE.md, `bench/step_parts.py`). The
same gradient summed over groups of 16 or more examples, one such convolution a group, runs
2-3.5x faster, since each group's operands fit in the caches and the groups run on every core.

`conv_general_dilated` is `lax.conv_general_dilated` with that gradient on the CPU: its forward
pass and input gradient are the plain convolution's, bit for bit; its filter gradient is the
sum of the groups' gradients (the same value, summed in another order). On other backends, and
where the steps run their convolutions in Eigen (`cpu_convolutions`: there the plain filter
gradient was the faster), it is the plain convolution. Its tangent is linear, so every order of
autodiff (forward and reverse) works through it.
"""

import jax
from jax import lax
import jax.numpy as jnp

from cutmix_jax.models import cpu_convolutions

GROUP_ROWS = 16  # the fewest examples a group of the filter gradient has
GROUP_COUNTS = (8, 4, 2)  # the group counts tried, most first


def gradient_groups(batch: int, backend: str, library: str = 'default') -> int:
  """How many example groups the filter gradient of a `batch`-example convolution sums: the
  most of 8, 4, 2 that divides the batch into groups of at least GROUP_ROWS, on the CPU with
  XLA's default convolutions (`library`, of `cpu_convolutions.library()`); else 1."""
  if backend != 'cpu' or library == 'eigen':
    return 1
  for groups in GROUP_COUNTS:
    if batch % groups == 0 and batch // groups >= GROUP_ROWS:
      return groups
  return 1


def conv_general_dilated(lhs, rhs, *args, dimension_numbers=None, **kwargs):
  """`lax.conv_general_dilated`, with the filter gradient summed over example groups on the CPU
  (same arguments; flax's `nn.Conv(conv_general_dilated=...)` takes it)."""
  plain = lambda lhs, rhs: lax.conv_general_dilated(
      lhs, rhs, *args, dimension_numbers=dimension_numbers, **kwargs
  )
  numbers = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
  lhs_batch, out_batch = numbers.lhs_spec[0], numbers.out_spec[0]
  groups = gradient_groups(lhs.shape[lhs_batch], jax.default_backend(), cpu_convolutions.library())
  if groups == 1:
    return plain(lhs, rhs)

  @jax.custom_jvp
  def conv(lhs, rhs):
    return plain(lhs, rhs)

  def tangent(primals, tangents):
    (lhs, rhs), (lhs_dot, rhs_dot) = primals, tangents
    out, out_dot = plain(lhs, rhs), None
    if not isinstance(lhs_dot, jax.custom_derivatives.SymbolicZero):
      out_dot = plain(lhs_dot, rhs)
    if not isinstance(rhs_dot, jax.custom_derivatives.SymbolicZero):
      # One convolution a group: transposed, the filter gradient is their sum, taken in float32
      # at least (a bfloat16 model's gradient is then rounded once, as the plain one is).
      wide = jnp.promote_types(lhs.dtype, jnp.float32)
      wide_rhs_dot = rhs_dot.astype(wide)  # one cast: its cotangent sums the groups' in `wide`
      parts = [
          plain(part.astype(wide), wide_rhs_dot) for part in jnp.split(lhs, groups, axis=lhs_batch)
      ]
      by_groups = jnp.concatenate(parts, axis=out_batch).astype(out.dtype)
      out_dot = by_groups if out_dot is None else out_dot + by_groups
    if out_dot is None:
      out_dot = jnp.zeros_like(out)
    return out, out_dot

  conv.defjvp(tangent, symbolic_zeros=True)
  return conv(lhs, rhs)
