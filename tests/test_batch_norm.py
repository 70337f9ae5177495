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


def _resnet_loss_and_stats(batch_norm_axis, variables, images, labels, total):
  """The summed cross-entropy over `total` images of a CIFAR ResNet in train mode, and its
  updated BatchNorm statistics."""
  from cutmix_jax import models  # pylint: disable=import-outside-toplevel

  model = models.get_model('resnet_cifar8', 10, batch_norm_axis=batch_norm_axis)
  logits, updates = model.apply(variables, images, train=True, mutable=['batch_stats'])
  loss = -jnp.sum(jax.nn.log_softmax(logits)[jnp.arange(len(labels)), labels]) / total
  return loss, updates['batch_stats']


@pytest.mark.parametrize('axis', ['data', None])
def test_global_statistics_on_devices_are_the_whole_batchs(axis):
  """With the device axis, BatchNorm on 8 devices normalizes (forward and backward) by the 32
  images' statistics, as one device does with all of them; without it by each device's 4."""
  from cutmix_jax import models  # pylint: disable=import-outside-toplevel

  devices = jax.device_count()
  assert devices == 8, 'tests run on 8 host devices (tests/conftest.py)'
  images = jax.random.normal(jax.random.key(0), (32, 8, 8, 3)) * 2 + 0.5
  labels = jnp.arange(32) % 10
  variables = models.get_model('resnet_cifar8', 10).init(jax.random.key(1), images[:2])
  whole = jax.value_and_grad(_resnet_loss_and_stats, argnums=1, has_aux=True)
  (loss, stats), grads = jax.jit(whole, static_argnums=0)(None, variables, images, labels, 32)

  def per_device(variables, images, labels):
    (loss, stats), grads = whole(axis, variables, images, labels, 32)
    # The gradient of the replicated variables comes summed over the devices already.
    return (jax.lax.psum(loss, 'data'), grads), stats

  mesh = jax.make_mesh((devices,), ('data',))
  P = jax.sharding.PartitionSpec
  mapped = jax.shard_map(
      per_device, mesh=mesh, in_specs=(P(), P('data'), P('data')), out_specs=(P(), P('data'))
  )
  put = lambda tree, spec: jax.device_put(tree, jax.sharding.NamedSharding(mesh, spec))
  arguments = put(variables, P()), put(images, P('data')), put(labels, P('data'))
  (loss_n, grads_n), stats_n = jax.device_get(jax.jit(mapped)(*arguments))
  stem_mean = stats['stem']['BatchNorm_0']['mean']
  first_device_mean = stats_n['stem']['BatchNorm_0']['mean'][: stem_mean.size]
  same = lambda a, b: np.allclose(a, b, rtol=2e-4, atol=2e-6)
  if axis is None:  # the test can fail: each device's own statistics differ from the batch's
    assert not same(first_device_mean, stem_mean)
    assert not same(loss_n, loss)
    return
  np.testing.assert_allclose(loss_n, loss, rtol=1e-5)
  for a, b in zip(jax.tree.leaves(grads_n), jax.tree.leaves(grads)):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6)
  for a, b in zip(jax.tree.leaves(stats_n), jax.tree.leaves(stats)):  # every device: the batch's
    every = np.asarray(a).reshape(devices, -1)
    np.testing.assert_allclose(every, np.tile(b, (devices, 1)), rtol=1e-5, atol=1e-6)
