"""Which library XLA:CPU runs the models' convolutions in, and the compile options choosing it.

XLA:CPU (jaxlib 0.10) hands most convolutions to YNNPACK and the rest to Eigen. On an x86 CPU
without AVX-512 (measured on a 2-core AMD EPYC with AVX2) YNNPACK's convolutions of the CIFAR
ResNets ran 1.7-1.9x slower than Eigen's, and Eigen's plain filter gradient beat the grouped
one (`filter_gradient`); on the AVX-512 machines of the earlier figures YNNPACK with the grouped
gradient was the fast pair (docs/PERFORMANCE.md). So on such a CPU the steps that the
placements compile (`training.devices`) take `compiler_options()`, which leaves convolutions to
Eigen, and are traced telling `filter_gradient` so (`library()`), which then keeps the plain
gradient. Your own step gets the same with `cpu_convolutions.jit` in place of `jax.jit`; a plain
`jax.jit` keeps XLA's default library and the gradient that suits it.

It stays off where the user chose YNNPACK's fusions in `XLA_FLAGS`, off the CPU, on other CPUs,
with a jaxlib that does not know the option, and in a run of several processes (`jax.pmap` takes
the options through a compile of its own, which does not take several processes' arrays).
"""

import functools
import os
import threading
from typing import Callable

import jax
import jax.numpy as jnp

OPTION = 'xla_cpu_experimental_ynn_fusion_type'
# XLA's default YNNPACK fusions but convolutions (dots and reductions stay in YNNPACK).
WITHOUT_CONVOLUTIONS = 'LIBRARY_FUSION_TYPE_DOT,LIBRARY_FUSION_TYPE_REDUCE'

_tracing = threading.local()  # `name`: the library of the step being traced on this thread


def has_avx512(cpuinfo: str = '/proc/cpuinfo') -> bool | None:
  """Whether this CPU has AVX-512 (its `avx512f` flag); None where that cannot be read (no
  Linux `cpuinfo`, or a CPU that is not x86)."""
  try:
    with open(cpuinfo, encoding='utf-8') as lines:
      flags = next(
          (line.split(':', 1)[1].split() for line in lines if line.startswith('flags')), None
      )
  except OSError:
    return None
  if flags is None or 'avx2' not in flags:
    return None
  return 'avx512f' in flags


def _option_accepted() -> bool:
  """Whether this jaxlib compiles a convolution with the option (it names an experimental flag)."""
  conv = lambda x: jax.lax.conv_general_dilated(x, x[:1], (1, 1), 'SAME')
  try:
    jax.jit(conv).lower(jax.ShapeDtypeStruct((1, 1, 2, 2), jnp.float32)).compile(
        compiler_options={OPTION: WITHOUT_CONVOLUTIONS}
    )
  except Exception:  # pylint: disable=broad-exception-caught  # XLA's error for unknown options
    return False
  return True


@functools.cache
def compiler_options() -> dict:
  """The compile options of the steps: Eigen's convolutions on an x86 CPU without AVX-512 (the
  default backend being the CPU), else none (XLA's defaults)."""
  if jax.default_backend() != 'cpu' or OPTION in os.environ.get('XLA_FLAGS', ''):
    return {}
  if jax.process_count() > 1:
    return {}
  if has_avx512() is not False or not _option_accepted():
    return {}
  return {OPTION: WITHOUT_CONVOLUTIONS}


def library() -> str:
  """'eigen' while a step that runs its convolutions in Eigen is traced (`traced_for`), else
  'default' (XLA's choice: YNNPACK for most on the CPU)."""
  return getattr(_tracing, 'name', 'default')


def traced_for(fun: Callable, options: dict) -> Callable:
  """`fun`, telling `library()` while it is traced which library XLA's compile `options` run its
  convolutions in (a trace-time choice: it adds nothing to the compiled step)."""
  name = 'eigen' if options.get(OPTION) == WITHOUT_CONVOLUTIONS else 'default'

  @functools.wraps(fun)
  def traced(*args, **kwargs):
    outer = library()
    _tracing.name = name
    try:
      return fun(*args, **kwargs)
    finally:
      _tracing.name = outer

  return traced


def jit(fun: Callable, **jit_kwargs) -> Callable:
  """`jax.jit(fun, **jit_kwargs)` with this CPU's fast convolutions: compiled with
  `compiler_options()` and traced for them (`traced_for`)."""
  options = compiler_options()
  return jax.jit(traced_for(fun, options), compiler_options=options or None, **jit_kwargs)
