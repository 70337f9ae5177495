"""The tests' threefry hash compiled unrolled on the CPU: the same bits, compiled in a fraction.

Every `jax.random` draw hashes its counters with threefry2x32. This jaxlib lowers the hash's
rounds on the CPU as a loop, and XLA:CPU takes seconds to compile that loop over an array of rank
3 or more: `jax.random.normal` of a (64, 8, 8, 3) array 1.4 s against 0.2 s unrolled,
`jax.random.bits` of (64, 8, 8, 16) 4.3 against 0.15 s (docs/PERFORMANCE.md). The tests draw such
arrays by the hundred. Later JAX unrolls the hash on the CPU as well (jax-ml/jax#37872); the
hash, and so every bit drawn, is the same either way (tests/test_prng_lowering.py checks it
against a process without this).
"""

import functools
import inspect


def unroll_threefry_on_cpu() -> bool:
  """Registers JAX's unrolled threefry lowering for the CPU; returns whether it did (False where
  this JAX no longer has the private names it needs, which leaves JAX's own lowering)."""
  try:
    from jax._src.interpreters import mlir  # pylint: disable=import-outside-toplevel
    from jax._src.random import threefry2x32  # pylint: disable=import-outside-toplevel

    lowering = threefry2x32._threefry2x32_lowering  # pylint: disable=protected-access
    primitive = threefry2x32.threefry2x32_p
  except (ImportError, AttributeError):
    return False
  if 'use_rolled_loops' not in inspect.signature(lowering).parameters:
    return False
  unrolled = functools.partial(lowering, use_rolled_loops=False)
  mlir.register_lowering(primitive, mlir.lower_fun(unrolled, multiple_results=True), platform='cpu')
  return True
