"""Partners across devices: sharded jit (Explicit and Auto axes), pmap and shard_map."""

import functools

import jax
import jax.numpy as jnp
from jax.sharding import AxisType
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np
import pytest

import cutmix_jax as cm

N, DEVICES = 64, 8
IMAGES = jax.random.normal(jax.random.key(1), (N, 8, 8, 3))
LABELS = cm.one_hot(jnp.arange(N) % 10, 10)
KEY = jax.random.key(5)
OPS = {
    'cutmix': cm.cutmix,
    'cutmix_elem': functools.partial(cm.cutmix, mode='elem'),
    'cutmix_pair': functools.partial(cm.cutmix, mode='pair'),
    'mixup': cm.mixup,
}


def _sharded(mesh, *arrays):
  return [jax.device_put(a, NamedSharding(mesh, P('data'))) for a in arrays]


def _per_device(array):
  return array.reshape((DEVICES, N // DEVICES) + array.shape[1:])


SLOW_SHARDED = ('cutmix_elem', 'cutmix_pair')  # the per-row draws: the slow tier checks them


@pytest.mark.parametrize('axis_type', [AxisType.Explicit, AxisType.Auto])
@pytest.mark.parametrize(
    'op', [pytest.param(op, marks=pytest.mark.slow) if op in SLOW_SHARDED else op for op in OPS]
)
def test_sharded_jit_global_equals_one_device_and_device_moves_nothing(axis_type, op):
  mesh = jax.make_mesh((DEVICES,), ('data',), axis_types=(axis_type,))
  images, labels = _sharded(mesh, IMAGES, LABELS)
  single = OPS[op](KEY, IMAGES, LABELS)
  with jax.set_mesh(mesh):
    for partners in cm.PARTNERS:
      # Compiled once, ahead of time: the program that runs is the one whose text is read.
      fn = jax.jit(functools.partial(OPS[op], partners=partners))
      fn = fn.lower(KEY, images, labels).compile()
      mixed, mixed_labels = fn(KEY, images, labels)
      assert mixed.sharding.spec[0] == 'data'  # the batch stays sharded
      hlo = fn.as_text()
      if partners == 'global':
        np.testing.assert_allclose(mixed, single[0], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(mixed_labels, single[1], rtol=1e-6, atol=1e-6)
      else:  # partners within each device's share: no collective at all
        assert not any(c in hlo for c in ('all-gather', 'all-to-all', 'collective-permute'))
        _assert_partners_within_shards(fn, images, labels)


def _assert_partners_within_shards(fn, images, labels):
  """Every mixed label row holds only classes of its own shard (labels are shard-distinct)."""
  shard_labels = cm.one_hot(jnp.arange(N) // (N // DEVICES), LABELS.shape[1])  # K >= DEVICES
  _, mixed = fn(KEY, images, jax.device_put(shard_labels, labels.sharding))
  own = np.asarray(mixed)[np.arange(N), np.arange(N) // (N // DEVICES)]
  np.testing.assert_allclose(own, 1.0, atol=1e-6)


FAMILY = {
    'cutout': functools.partial(cm.cutout, size=4),
    'fmix': cm.fmix,
    'resizemix': cm.resizemix,
    'saliencymix': cm.saliencymix,  # one box for the global batch, on every device
    'saliencymix_elem': functools.partial(cm.saliencymix, mode='elem'),
}


@pytest.mark.parametrize('op', sorted(OPS) + sorted(FAMILY))
def test_pmap_global_partners_equal_the_single_device_result(op):
  mixing = {**OPS, **FAMILY}[op]
  fn = jax.pmap(lambda k, x, y: mixing(k, x, y, axis_name='i'), axis_name='i', in_axes=(None, 0, 0))
  mixed, mixed_labels = fn(KEY, _per_device(IMAGES), _per_device(LABELS))
  single = mixing(KEY, IMAGES, LABELS)
  np.testing.assert_allclose(np.asarray(mixed).reshape(IMAGES.shape), single[0], atol=1e-6)
  np.testing.assert_allclose(np.asarray(mixed_labels).reshape(LABELS.shape), single[1], atol=1e-6)


def test_pmap_device_partners_draw_per_device():
  def draw(k, x):
    result = cm.draw_cutmix(k, x, partners='device', axis_name='i')
    return result.pairing.permutation, result.lam

  fn = jax.pmap(draw, axis_name='i', in_axes=(None, 0))
  permutations, lams = (np.asarray(v) for v in fn(KEY, _per_device(IMAGES)))
  assert permutations.max() < N // DEVICES  # indices into the device's own share
  assert len({tuple(p) for p in permutations}) == DEVICES  # each device draws its own
  assert len(set(lams.tolist())) == DEVICES


def test_shard_map_global_partners_equal_the_single_device_result():
  mesh = jax.make_mesh((DEVICES,), ('data',), axis_types=(AxisType.Explicit,))
  fn = jax.jit(
      jax.shard_map(
          lambda k, x, y: cm.cutmix(k, x, y, axis_name='data'),
          mesh=mesh,
          in_specs=(P(), P('data'), P('data')),
          out_specs=(P('data'), P('data')),
      )
  )
  mixed, mixed_labels = fn(KEY, *_sharded(mesh, IMAGES, LABELS))
  single = cm.cutmix(KEY, IMAGES, LABELS)
  np.testing.assert_array_equal(mixed, single[0])
  np.testing.assert_allclose(mixed_labels, single[1], atol=1e-6)


@pytest.mark.slow
def test_mix_batch_global_under_pmap_decides_once_for_all_devices():
  config = cm.MixConfig(method='cutmix', prob=0.5)
  fn = jax.pmap(
      lambda k, x, y: cm.mix_batch(k, x, y, config=config, axis_name='i'),
      axis_name='i',
      in_axes=(None, 0, 0),
  )
  decisions = set()
  for seed in range(12):
    key = jax.random.key(seed)
    _, mixed_labels = fn(key, _per_device(IMAGES), _per_device(LABELS))
    changed = np.asarray(mixed_labels).reshape(LABELS.shape) != np.asarray(LABELS)
    per_device = changed.reshape(DEVICES, -1).any(axis=1)
    assert per_device.all() or not per_device.any()  # all devices mix, or none
    decisions.add(bool(per_device.any()))
    single = cm.mix_batch(key, IMAGES, LABELS, config=config)[1]
    np.testing.assert_allclose(np.asarray(mixed_labels).reshape(LABELS.shape), single, atol=1e-6)
  assert decisions == {True, False}
