"""The convolution whose filter gradient sums over example groups on the CPU."""

import jax
from jax import lax
import jax.numpy as jnp
from jax.test_util import check_grads
import numpy as np
import optax
import pytest

from cutmix_jax.models import cpu_convolutions
from cutmix_jax.models import filter_gradient
from cutmix_jax.models import resnet
from cutmix_jax.models import vit

_NUMBERS = ('NHWC', 'HWIO', 'NHWC')


@pytest.fixture(autouse=True)
def default_convolutions(monkeypatch):
  """XLA's default convolutions, under which the CPU groups the filter gradient, on any CPU (on
  an x86 CPU without AVX-512 the steps take Eigen's and the plain gradient: cpu_convolutions)."""
  monkeypatch.setattr(cpu_convolutions, 'compiler_options', dict)


def _conv(conv, strides=(1, 1)):
  return lambda x, w: conv(x, w, strides, ((1, 1), (1, 1)), dimension_numbers=_NUMBERS)


def _operands(batch=32, side=8, channels=4):
  x = jax.random.normal(jax.random.key(0), (batch, side, side, channels))
  w = jax.random.normal(jax.random.key(1), (3, 3, channels, 2 * channels))
  return x, w


@pytest.mark.parametrize(
    'batch, backend, library, groups',
    [
        (128, 'cpu', 'default', 8),
        (64, 'cpu', 'default', 4),
        (48, 'cpu', 'default', 2),
        (16, 'cpu', 'default', 1),
        (8, 'cpu', 'default', 1),
        (128, 'cpu', 'eigen', 1),
        (128, 'gpu', 'default', 1),
    ],
)
def test_groups_of_at_least_sixteen_examples_on_the_cpu_with_its_default_convolutions(
    batch, backend, library, groups
):
  assert filter_gradient.gradient_groups(batch, backend, library) == groups


@pytest.mark.parametrize('strides', [(1, 1), (2, 2)])
def test_forward_and_input_gradient_are_the_plain_convolutions_and_the_filter_gradient_its_sum(
    strides,
):
  x, w = _operands()
  ours, plain = _conv(filter_gradient.conv_general_dilated, strides), _conv(
      lax.conv_general_dilated, strides
  )
  assert filter_gradient.gradient_groups(len(x), jax.default_backend()) == 2  # grouped here
  np.testing.assert_array_equal(jax.jit(ours)(x, w), jax.jit(plain)(x, w))
  loss = lambda conv: lambda x, w: jnp.sum(jnp.sin(conv(x, w)))
  (dx, dw), (plain_dx, plain_dw) = (jax.jit(jax.grad(loss(c), (0, 1)))(x, w) for c in (ours, plain))
  np.testing.assert_array_equal(dx, plain_dx)
  np.testing.assert_allclose(dw, plain_dw, rtol=1e-5, atol=1e-5 * np.abs(plain_dw).max())
  # Each group's share of the filter gradient, summed by hand, is what it gives (to float32's
  # rounding of sums in another order: 2.5e-6 apart on an AVX2 CPU).
  halves = [jax.grad(loss(plain), 1)(part, w) for part in jnp.split(x, 2)]
  np.testing.assert_allclose(dw, halves[0] + halves[1], rtol=1e-5, atol=1e-5)


def test_every_order_and_mode_of_autodiff_goes_through_it():
  x, w = _operands(side=4, channels=2)
  ours = _conv(filter_gradient.conv_general_dilated)
  check_grads(ours, (x, w), order=2, modes=('fwd', 'rev'), atol=1e-2, rtol=1e-2)
  tangent = jax.jvp(ours, (x, w), (x, w))[1]
  np.testing.assert_allclose(tangent, 2 * ours(x, w), rtol=1e-5, atol=1e-5)  # it is bilinear
  only_x = jax.jvp(lambda x: ours(x, w), (x,), (x,))[1]  # a zero filter tangent
  np.testing.assert_allclose(only_x, ours(x, w), rtol=1e-5, atol=1e-5)


@pytest.mark.slow  # two compilations of a model's gradient (20 s); the op's tests are quick
@pytest.mark.parametrize(
    'model',
    [
        resnet.resnet_cifar8(num_classes=10, dtype=jnp.float32),
        vit.vit_cifar(num_classes=10, depth=1, dtype=jnp.float32),  # its patch embedding
    ],
    ids=['resnet', 'vit'],
)
def test_a_models_parameter_gradients_equal_the_plain_convolutions(monkeypatch, model):
  images = jax.random.normal(jax.random.key(2), (32, 16, 16, 3))
  variables = model.init(jax.random.key(3), images, train=False)

  def loss(params):
    logits, _ = model.apply(
        {**variables, 'params': params}, images, train=True, mutable=['batch_stats']
    )
    return optax.softmax_cross_entropy_with_integer_labels(logits, jnp.arange(32) % 10).mean()

  def gradients():
    compiled = jax.jit(jax.grad(loss)).lower(variables['params']).compile()
    return compiled(variables['params']), compiled.as_text().count(' convolution(')

  grouped, grouped_convolutions = gradients()
  monkeypatch.setattr(filter_gradient, 'gradient_groups', lambda batch, backend, library: 1)
  plain, plain_convolutions = gradients()
  assert grouped_convolutions > plain_convolutions  # one filter gradient a group
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), grouped, plain)


def test_a_bfloat16_filter_gradient_is_the_float32_sum_rounded_once():
  x, w = _operands()
  x, w = x.astype(jnp.bfloat16), w.astype(jnp.bfloat16)
  ours = _conv(filter_gradient.conv_general_dilated)
  cotangent = jax.random.normal(jax.random.key(4), ours(x, w).shape).astype(jnp.bfloat16)
  filter_of = lambda x, w, dy: jax.jit(lambda x, w, dy: jax.vjp(lambda w: ours(x, w), w)[1](dy))(
      x, w, dy
  )[0]
  wide = filter_of(x.astype(jnp.float32), w.astype(jnp.float32), cotangent.astype(jnp.float32))
  np.testing.assert_array_equal(filter_of(x, w, cotangent), wide.astype(jnp.bfloat16))
