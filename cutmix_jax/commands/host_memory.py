"""Host memory that XLA:CPU's buffers reuse, instead of mapping it afresh at every step.

glibc gives each of XLA:CPU's worker threads a malloc arena of its own, and serves an allocation
larger than such an arena's heap (64 MiB), a train step's temporary buffer for one (356 MB for
`resnet_cifar20` at batch 128), by a fresh `mmap` that `free` unmaps again. Every step then
faults its buffers in page by page: about 120,000 page faults a second, a fifth of the step's CPU
time spent in the kernel (docs/PERFORMANCE.md). One arena for every thread, which neither maps
nor trims, keeps freed memory in the process for the next step: the step's memory stays mapped
at its peak, which it reaches again at every step anyway.

The train and evaluate commands apply it on CPU-only installs; other programs can call
`keep_freed_memory()` first thing (or set glibc's `MALLOC_ARENA_MAX=1 MALLOC_MMAP_MAX_=0
MALLOC_TRIM_THRESHOLD_=2147483647` in the environment).
"""

import ctypes
import importlib.metadata
import importlib.util
import os
import sys

# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8
NEVER_TRIM = 2**31 - 1  # bytes: the largest threshold mallopt takes


def runs_on_cpu_only() -> bool:
  """Whether JAX will compute on the CPU: `JAX_PLATFORMS=cpu`, or no accelerator plugin (CUDA,
  ROCm, TPU) installed and `JAX_PLATFORMS` unset."""
  platforms = os.environ.get('JAX_PLATFORMS', '')
  if platforms:
    return platforms == 'cpu'
  plugins = importlib.metadata.entry_points(group='jax_plugins')  # CUDA, ROCm plugins
  installed = lambda name: importlib.util.find_spec(name) is not None
  return not plugins and not installed('jax_plugins') and not installed('libtpu')


def keep_freed_memory() -> bool:
  """Makes glibc serve every thread from one arena that never maps nor trims, so that freed
  buffers are reused; returns whether it did (False off glibc).

  Call it before JAX starts computing (its threads then take the one arena).
  """
  if not sys.platform.startswith('linux'):
    return False
  try:
    mallopt = ctypes.CDLL(None).mallopt
  except (OSError, AttributeError):
    return False
  settings = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, NEVER_TRIM))
  return all(mallopt(parameter, value) == 1 for parameter, value in settings)
