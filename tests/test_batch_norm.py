"""The models' BatchNorm (`cutmix_jax.models.batch_norm`) against flax's, which it replaces."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cutmix_jax.models.batch_norm import BatchNorm


def _bits(tree):
  return [np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(tree)]


@pytest.mark.parametrize('dtype', [jnp.float32, jnp.bfloat16])
def test_batch_norm_is_flaxs_and_its_running_statistics_pass_a_barrier(dtype):
  x = (jax.random.normal(jax.random.key(0), (8, 5, 5, 7)) * 3 + 1).astype(dtype)
  settings = dict(momentum=0.9, epsilon=1e-5, dtype=dtype, param_dtype=jnp.float32)
  results = {}
  for module in (nn.BatchNorm, BatchNorm):
    train, evaluate = (module(use_running_average=r, **settings) for r in (False, True))
    variables = train.init(jax.random.key(1), x)
    noise = lambda leaf: leaf + jax.random.uniform(jax.random.key(2), leaf.shape)
    variables = jax.tree.map(noise, variables)  # scale, bias and statistics away from 1 and 0
    out, updates = jax.jit(lambda v, x: train.apply(v, x, mutable=['batch_stats']))(variables, x)
    results[module] = (variables, out, updates, jax.jit(evaluate.apply)(variables, x))
  (flax_vars, flax_out, flax_new, flax_eval), (vars_, out, new, evaluated) = results.values()
  assert jax.tree.map(jnp.shape, flax_vars) == jax.tree.map(jnp.shape, vars_)  # same names
  assert _bits(out) == _bits(flax_out) and _bits(evaluated) == _bits(flax_eval)
  mean = np.asarray(x, np.float32).mean((0, 1, 2))
  expected = 0.9 * np.asarray(vars_['batch_stats']['mean']) + np.float32(0.1) * mean
  np.testing.assert_allclose(new['batch_stats']['mean'], expected, rtol=1e-6)
  np.testing.assert_allclose(new['batch_stats']['mean'], flax_new['batch_stats']['mean'], rtol=1e-6)
