"""BatchNorm whose running statistics are the same bits in every program that computes them.

`flax.linen.BatchNorm`'s arithmetic, step for step (float32 statistics, the fast variance
`E[x^2] - E[x]^2`, the same parameter and statistic names, so checkpoints are interchangeable),
with one difference: the batch statistics pass an `optimization_barrier` before the momentum
update. Without it XLA may fold the update's constant into the mean's division
(`0.1 * (sum * 1/n)` -> `sum * (0.1/n)`) in one program and not in another, and the mesh and
pmap steps then kept running statistics that differed in their last bit.
"""

from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp


class BatchNorm(nn.Module):
  """BatchNorm over the last axis of `(..., C)` inputs, statistics over the other axes.

  Attributes:
    use_running_average: normalize with the running statistics (evaluation) instead of the
      batch's (training, which also updates them).
    momentum: running = momentum * running + (1 - momentum) * batch.
    epsilon: added to the variance.
    dtype: the output dtype; statistics and normalization compute in float32.
    param_dtype: dtype of `scale` and `bias`.
    axis_name: the device axis (of `shard_map` or `pmap`) whose equal shares make up the batch:
      training normalizes by the statistics of the whole batch, the same on every device
      (synchronized BatchNorm); None: by each device's own share's.
  """

  use_running_average: bool
  momentum: float = 0.99
  epsilon: float = 1e-5
  dtype: Any = None
  param_dtype: Any = jnp.float32
  axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, x):
    features = (x.shape[-1],)
    axes = tuple(range(x.ndim - 1))
    running_mean = self.variable('batch_stats', 'mean', jnp.zeros, features, jnp.float32)
    running_var = self.variable('batch_stats', 'var', jnp.ones, features, jnp.float32)
    if self.use_running_average:
      mean, var = running_mean.value, running_var.value
    else:
      wide = x.astype(jnp.promote_types(self.dtype or x.dtype, jnp.float32))
      mean, mean_square = wide.mean(axes), jax.lax.square(wide).mean(axes)
      if self.axis_name is not None and not self.is_initializing():
        # Equal shares: the mean of the devices' means is the whole batch's (one all-reduce).
        mean, mean_square = jax.lax.pmean((mean, mean_square), self.axis_name)
      var = jnp.maximum(0.0, mean_square - jax.lax.square(mean))
      if not self.is_initializing():
        batch_mean, batch_var = jax.lax.optimization_barrier((mean, var))
        decay = 1 - self.momentum
        running_mean.value = self.momentum * running_mean.value + decay * batch_mean
        running_var.value = self.momentum * running_var.value + decay * batch_var
    scale = self.param('scale', nn.initializers.ones, features, self.param_dtype)
    bias = self.param('bias', nn.initializers.zeros, features, self.param_dtype)
    y = (x - mean) * (jax.lax.rsqrt(var + self.epsilon) * scale) + bias
    return y.astype(self.dtype or jnp.result_type(x, scale, bias))
