"""The tests' unrolled threefry (tests/prng_lowering.py) draws what JAX's own lowering draws."""

import json
import subprocess
import sys

import conftest
import jax
import jax.numpy as jnp
import numpy as np
import pytest

# The hash itself at rank four, a draw made of it, keys split, and draws inside loops (Beta's
# rejection sampling), as `jax.random` gives them to a user; small, as JAX's own lowering compiles
# them slowly in the subprocess.
DRAWS = """
import jax, jax.numpy as jnp
key = jax.random.key(7)
draws = {
    'bits': jax.random.bits(key, (4, 3, 5, 2)),
    'normal': jax.random.normal(key, (2, 3, 4, 5), jnp.bfloat16).view(jnp.uint16),
    'split': jax.random.key_data(jax.random.split(key, (2, 3))),
    'beta': jax.random.beta(key, 0.4, 0.4, (16,)),
}
"""


def _draws_here():
  scope = {}
  exec(DRAWS, scope)  # pylint: disable=exec-used
  return {name: np.asarray(value).tolist() for name, value in scope['draws'].items()}


def test_the_tests_draw_the_bits_of_jaxs_own_lowering():
  show = DRAWS + '\nimport json, numpy as np\n'
  show += 'print(json.dumps({k: np.asarray(v).tolist() for k, v in draws.items()}))'
  users = json.loads(subprocess.check_output([sys.executable, '-c', show], text=True))
  ours = _draws_here()
  assert ours.keys() == users.keys()
  for name in users:
    np.testing.assert_array_equal(ours[name], users[name], err_msg=name)


@pytest.mark.skipif(not conftest.UNROLLED_THREEFRY, reason='this JAX lowers threefry its own way')
def test_a_draw_of_rank_four_compiles_without_a_loop():
  draw = jax.jit(lambda key: jax.random.normal(key, (64, 8, 8, 3), jnp.float32))
  assert ' while(' not in draw.lower(jax.random.key(0)).compile().as_text()
