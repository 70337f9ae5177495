"""The commands' host memory setting: XLA:CPU's freed buffers are reused, not mapped anew."""

import subprocess
import sys

import pytest

from cutmix_jax.commands import host_memory

# The page faults of five calls of a jitted function whose temporary (a 64 MiB product, read
# transposed) exceeds a thread arena's heap; with `keep` the process calls keep_freed_memory()
# first.
FAULTS = """
import resource, sys
import jax, jax.numpy as jnp
from cutmix_jax.commands import host_memory
if sys.argv[1] == 'keep':
  assert host_memory.keep_freed_memory()
product = lambda x: jnp.sin(x) @ x.T
f = jax.jit(lambda x: (jnp.exp(product(x)) * product(x).T).sum())
x = jnp.ones((4096, 64), jnp.float32)
f(x).block_until_ready()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
  f(x).block_until_ready()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> int:
  out = subprocess.run(
      [sys.executable, '-c', FAULTS, mode], capture_output=True, text=True, check=True,
      env={'JAX_PLATFORMS': 'cpu', 'PATH': ''},
  )  # fmt: skip
  return int(out.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='a glibc setting')
def test_freed_buffers_are_reused_not_faulted_in_again():
  plain, kept = page_faults('plain'), page_faults('keep')
  assert plain > 5 * 10_000  # each call faults most of its 64 MiB in afresh (4 KiB pages)
  assert kept < plain / 10


@pytest.mark.parametrize(
    'environment, plugins, expected',
    [
        ({'JAX_PLATFORMS': 'cpu'}, ['cuda'], True),
        ({'JAX_PLATFORMS': 'cuda'}, [], False),
        ({}, [], True),
        ({}, ['cuda'], False),
    ],
)
def test_applies_only_where_jax_computes_on_the_cpu(monkeypatch, environment, plugins, expected):
  monkeypatch.delenv('JAX_PLATFORMS', raising=False)
  for name, value in environment.items():
    monkeypatch.setenv(name, value)
  monkeypatch.setattr(host_memory.importlib.metadata, 'entry_points', lambda group: plugins)
  assert host_memory.runs_on_cpu_only() is expected


def test_a_tpu_install_is_not_cpu_only(monkeypatch):
  monkeypatch.delenv('JAX_PLATFORMS', raising=False)
  monkeypatch.setattr(host_memory.importlib.metadata, 'entry_points', lambda group: [])
  find_spec = host_memory.importlib.util.find_spec
  monkeypatch.setattr(
      host_memory.importlib.util, 'find_spec', lambda name: name == 'libtpu' or find_spec(name)
  )
  assert not host_memory.runs_on_cpu_only()
