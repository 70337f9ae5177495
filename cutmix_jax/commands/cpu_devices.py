"""Two host devices for a training run on the CPU, which XLA:CPU steps faster than one.

One device's train step leaves part of the CPU idle (the default run kept 1.6 of 2 cores busy):
XLA:CPU runs its program one operation after the other, and many of them use one core. Two host
devices run their halves of the batch at once, and the default recipe's step ran about 1.3x
faster on 2 cores (docs/PERFORMANCE.md). `train.py` does it for a run whose BatchNorm takes the
statistics of the whole batch (`config.batch_norm='global'`, the default recipe's), so that the
split does not change what it trains; a count the user chose is kept.
"""

import os

from cutmix_jax.commands import host_memory

CPU_DEVICES = 2  # measured on 2 cores: 4 and 8 host devices ran slower than 2


def count_chosen() -> bool:
  """Whether the user chose the host device count (`JAX_NUM_CPU_DEVICES`, or
  `--xla_force_host_platform_device_count` in `XLA_FLAGS`)."""
  chosen_flag = 'xla_force_host_platform_device_count' in os.environ.get('XLA_FLAGS', '')
  return chosen_flag or bool(os.environ.get('JAX_NUM_CPU_DEVICES'))


def cores() -> int:
  """The cores this process may run on."""
  return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1


def split_batch_on_cpu(batch_norm: str, multi_process: bool = False) -> int:
  """Asks JAX for `CPU_DEVICES` host devices (at most one a core) when the run computes on the
  CPU in one process, normalizes by whole-batch statistics and the user chose no count; returns
  the count asked for, or 0 when it asks for none. Call it before JAX starts its backend."""
  if batch_norm != 'global' or multi_process or count_chosen():
    return 0
  if not host_memory.runs_on_cpu_only():
    return 0
  count = min(CPU_DEVICES, cores())
  if count < 2:
    return 0
  import jax  # pylint: disable=import-outside-toplevel

  jax.config.update('jax_num_cpu_devices', count)
  return count
