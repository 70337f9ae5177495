"""Every op is differentiable: the gradient with respect to the images, to float dense maps and
to soft labels is the analytic one (`jax.test_util.check_grads`, forward and reverse mode), for
every registered method and a plug-in on `mix_by_mask`, eager and under `jit`, `vmap` and
`shard_map` (those in the slow tier); a float mask is differentiable too, so that a learned mask
can be trained."""

import functools

import jax
import jax.numpy as jnp
from jax.sharding import AxisType
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from jax.test_util import check_grads
import numpy as np
import pytest

import cutmix_jax as cm
from cutmix_jax.ops import mask_mix

N, H, W, K = 16, 8, 8, 5
_KEY = jax.random.key(3)
_RNG = np.random.default_rng(0)
_BLOBS = np.zeros((N, H, W, 3))
for _i in range(N):  # one bright 2 x 2 object per image: a saliency peak that a nudge keeps
  _BLOBS[_i, _i * 3 % 6 : _i * 3 % 6 + 2, _i * 5 % 6 : _i * 5 % 6 + 2] = 8.0
_IMAGES = jnp.asarray(_RNG.normal(size=(N, H, W, 3)) * 0.3 + _BLOBS, jnp.float32)
_LABELS = jax.nn.softmax(jnp.asarray(_RNG.normal(size=(N, K)), jnp.float32))
_DENSE = jnp.asarray(_RNG.normal(size=(N, H, W, 2)), jnp.float32)  # a float dense target


@cm.register_method(uses_alpha=False)
def soft_rows(rng, images, labels, *extras, alpha=None, partners, axis_name, top=0.7):
  """A plug-in with a float mask: the partner weighs `top` in the upper rows, fading below."""
  del alpha
  fade = jnp.linspace(top, 0.0, images.shape[1])[:, None] * jnp.ones(images.shape[1:3])
  pairing = cm.draw_partners(rng, images, partners, axis_name)
  return cm.mix_by_mask(images, labels, fade, pairing, *extras)


@cm.register_method()
def upper_box(rng, images, labels, *extras, alpha, partners, axis_name):
  """A plug-in with a boolean mask: the partner's upper-left quarter."""
  del alpha
  rows, cols = jnp.arange(images.shape[1])[:, None], jnp.arange(images.shape[2])[None, :]
  mask = (rows < images.shape[1] // 2) & (cols < images.shape[2] // 2)
  pairing = cm.draw_partners(rng, images, partners, axis_name)
  return cm.mix_by_mask(images, labels, mask, pairing, *extras)


CASES = {
    **{name: (name, {}) for name in cm.METHODS[1:] if name != 'cutout'},
    'cutout': ('cutout', {'size': 4}),  # the default 16 would hide all of an 8 x 8 image
    'cutmix_elem_switched': ('cutmix', {'mode': 'elem', 'mixup_prob': 0.5}),  # a float mask
    'soft_rows (plug-in)': ('test_gradients:soft_rows', {}),
    'upper_box (plug-in)': ('test_gradients:upper_box', {}),
}


@pytest.fixture(autouse=True, scope='module')
def _fast_compiles():
  """Many small programs, each run once: compile them without XLA's optimizations (as flax's
  example tests do), which keeps the numbers and halves the time."""
  jax.config.update('jax_disable_most_optimizations', True)
  yield
  jax.config.update('jax_disable_most_optimizations', False)


def _mixer(case, partners='global', axis_name=None):
  """`(images, labels, dense) -> (images, labels, dense)` mixed by `case` with a fixed key."""
  name, changes = CASES[case]
  method = cm.get_method(name)
  settings = method.settings(**changes)

  def mix(images, labels, dense):
    return method.apply(
        _KEY, images, labels, (dense,), settings, alpha=1.0, partners=partners, axis_name=axis_name
    )

  return mix


def _check(fn, args):
  check_grads(fn, args, order=1, modes=('fwd', 'rev'), atol=2e-2, rtol=2e-2, eps=1e-3)


@pytest.mark.slow  # check_grads traces each op many times: a minute in all
@pytest.mark.parametrize('case', list(CASES))
def test_gradients_are_the_analytic_ones_eager_and_jitted(case):
  mix = _mixer(case)
  args = (_IMAGES, _LABELS, _DENSE)
  _check(mix, args)
  _check(jax.jit(mix), args)
  # Not all zero, and non-zero on the pixels an op keeps: what a bitcast select loses.
  grad = jax.grad(lambda x: jnp.sum(mix(x, _LABELS, _DENSE)[0] ** 2))(_IMAGES)
  assert float(jnp.sum(jnp.abs(grad))) > 100.0


@pytest.mark.slow  # a program per case and transform: two minutes in all
@pytest.mark.parametrize('case', list(CASES))
def test_gradients_under_vmap_and_shard_map(case):
  args = (_IMAGES, _LABELS, _DENSE)
  stacked = tuple(jnp.stack([a, a[::-1]]) for a in args)
  _check(jax.vmap(_mixer(case)), stacked)

  mesh = jax.make_mesh((8,), ('data',), axis_types=(AxisType.Auto,))  # takes any input layout
  spec = P('data')
  sharded = jax.jit(
      jax.shard_map(_mixer(case, axis_name='data'), mesh=mesh, in_specs=spec, out_specs=spec)
  )
  placed = tuple(jax.device_put(a, NamedSharding(mesh, spec)) for a in args)
  _check(sharded, placed)
  # Global partners under shard_map: the same mix (and so the same gradient) as on one device.
  one_device = jax.grad(lambda x: jnp.sum(_mixer(case)(x, _LABELS, _DENSE)[0] ** 2))(_IMAGES)
  on_mesh = jax.grad(lambda x: jnp.sum(sharded(x, *placed[1:])[0] ** 2))(placed[0])
  np.testing.assert_allclose(on_mesh, one_device, rtol=1e-5, atol=1e-6)


def test_a_float_mask_is_differentiable_so_it_can_be_learned():
  pairing = cm.draw_partners(_KEY, _IMAGES)
  mask = jnp.asarray(_RNG.uniform(0.2, 0.8, size=(N, H, W)), jnp.float32)
  mix = lambda m: cm.mix_by_mask(_IMAGES, _LABELS, m, pairing, _DENSE)
  _check(mix, (mask,))
  _check(jax.jit(mix), (mask,))
  # The analytic gradient of the image loss: d/dm sum((1 - m) x + m x_p) = sum_c (x_p - x).
  grad = jax.grad(lambda m: jnp.sum(mix(m)[0]))(mask)
  np.testing.assert_allclose(grad, jnp.sum(pairing.take(_IMAGES) - _IMAGES, -1), atol=1e-5)


def test_the_select_keeps_its_derivative_in_every_float_dtype():
  mask = jnp.arange(H * W).reshape(H, W) % 3 == 0
  for dtype in (jnp.float32, jnp.bfloat16, jnp.float16):
    on_true, on_false = _IMAGES[0].astype(dtype), (-_IMAGES[0]).astype(dtype)
    select = functools.partial(mask_mix.select_pixels, mask[..., None])
    np.testing.assert_array_equal(
        select(on_true, on_false), jnp.where(mask[..., None], on_true, on_false)
    )
    grads = jax.grad(lambda a, b: jnp.sum(select(a, b).astype(jnp.float32) * 3.0), (0, 1))(
        on_true, on_false
    )
    inside = jnp.broadcast_to(mask[..., None], on_true.shape)
    np.testing.assert_array_equal(grads[0], jnp.where(inside, 3.0, 0.0).astype(dtype))
    np.testing.assert_array_equal(grads[1], jnp.where(inside, 0.0, 3.0).astype(dtype))
  select = functools.partial(mask_mix.select_pixels, mask)
  check_grads(select, (_IMAGES[0, ..., 0], _IMAGES[1, ..., 0]), order=2)
