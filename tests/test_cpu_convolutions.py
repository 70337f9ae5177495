"""The choice of XLA:CPU's convolution library for the steps (`models.cpu_convolutions`)."""

import jax
from jax import lax
import numpy as np
import pytest

from cutmix_jax.models import cpu_convolutions
from cutmix_jax.models import filter_gradient

_EIGEN = {cpu_convolutions.OPTION: cpu_convolutions.WITHOUT_CONVOLUTIONS}


@pytest.mark.parametrize(
    'flags, expected',
    [
        ('fpu sse2 avx avx2 fma avx512f avx512bw', True),
        ('fpu sse2 avx avx2 fma', False),
        ('fp asimd evtstrm', None),  # not x86
    ],
)
def test_avx512_is_read_from_the_cpus_flags(tmp_path, flags, expected):
  cpuinfo = tmp_path / 'cpuinfo'
  cpuinfo.write_text(f'processor\t: 0\nmodel name\t: a CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n')
  assert cpu_convolutions.has_avx512(str(cpuinfo)) is expected
  assert cpu_convolutions.has_avx512(str(tmp_path / 'absent')) is None


@pytest.fixture
def uncached(monkeypatch):
  """`compiler_options()` decided afresh under the test's settings."""
  cpu_convolutions.compiler_options.cache_clear()
  monkeypatch.delenv('XLA_FLAGS', raising=False)
  yield monkeypatch
  cpu_convolutions.compiler_options.cache_clear()


@pytest.mark.parametrize(
    'avx512, xla_flags, expected',
    [
        (False, '', _EIGEN),
        (True, '', {}),
        (None, '', {}),
        (False, '--xla_cpu_experimental_ynn_fusion_type=', {}),  # the user's choice is kept
    ],
)
def test_the_steps_take_eigens_convolutions_on_x86_without_avx512_only(
    uncached, avx512, xla_flags, expected
):
  uncached.setattr(cpu_convolutions, 'has_avx512', lambda: avx512)
  uncached.setenv('XLA_FLAGS', xla_flags)
  assert cpu_convolutions.compiler_options() == expected


def _filter_gradient_convolutions(compile_step) -> int:
  """How many convolutions a step's gradient of one model convolution has: the forward, the input
  gradient and the filter gradient's one (plain) or one a group (grouped)."""
  x = jax.random.normal(jax.random.key(0), (128, 8, 8, 4))
  w = jax.random.normal(jax.random.key(1), (3, 3, 4, 4))
  conv = lambda x, w: filter_gradient.conv_general_dilated(
      x, w, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC')
  )
  step = compile_step(jax.grad(lambda x, w: jax.numpy.sum(conv(x, w) ** 2), (0, 1)))
  return step.lower(x, w).as_text().count('stablehlo.convolution')


@pytest.mark.parametrize('avx512', [False, True])
def test_the_filter_gradient_follows_the_compile_not_the_cpu(uncached, avx512):
  uncached.setattr(cpu_convolutions, 'has_avx512', lambda: avx512)
  grouped = 2 + filter_gradient.gradient_groups(128, jax.default_backend())
  # `cpu_convolutions.jit` (the placements' compile): the plain gradient with Eigen's convolutions
  assert _filter_gradient_convolutions(cpu_convolutions.jit) == (3 if not avx512 else grouped)
  # a plain `jax.jit` keeps XLA's default library, and the gradient that suits it, on any CPU
  assert _filter_gradient_convolutions(jax.jit) == grouped
  assert cpu_convolutions.library() == 'default'  # outside a trace


def test_library_is_told_while_the_step_is_traced_only():
  seen = cpu_convolutions.traced_for(lambda: cpu_convolutions.library(), _EIGEN)
  assert seen() == 'eigen'
  assert cpu_convolutions.traced_for(seen, {})() == 'eigen'  # the innermost compile's choice
  assert cpu_convolutions.traced_for(cpu_convolutions.library, {})() == 'default'
  assert cpu_convolutions.library() == 'default'


def test_a_run_of_several_processes_keeps_xlas_default(uncached):
  uncached.setattr(cpu_convolutions, 'has_avx512', lambda: False)
  uncached.setattr(jax, 'process_count', lambda: 2)  # pmap's own compile takes one process's arrays
  assert cpu_convolutions.compiler_options() == {}


def test_the_option_moves_convolutions_out_of_ynnpack_and_keeps_their_values():
  assert cpu_convolutions._option_accepted()  # this jaxlib knows the option
  x = jax.random.normal(jax.random.key(0), (16, 16, 16, 32))
  w = jax.random.normal(jax.random.key(1), (3, 3, 32, 32))
  conv = lambda x, w: lax.conv_general_dilated(
      x, w, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC')
  )
  gradient = jax.grad(lambda x, w: jax.numpy.sum(conv(x, w) ** 2), (0, 1))
  default = jax.jit(gradient).lower(x, w).compile()
  eigen = jax.jit(gradient, compiler_options=_EIGEN).lower(x, w).compile()
  assert '__ynn_fusion' in default.as_text()  # XLA's default: YNNPACK's convolutions
  assert '__ynn_fusion' not in eigen.as_text()
  for ours, theirs in zip(eigen(x, w), default(x, w)):
    np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-4 * np.abs(theirs).max())
