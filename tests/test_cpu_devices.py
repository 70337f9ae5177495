"""train.py splits each batch over 2 host devices on the CPU, when that changes nothing trained."""

import os
import subprocess
import sys

import pytest

from cutmix_jax.commands import cpu_devices

ASK = """
import sys
import jax
from cutmix_jax.commands import cpu_devices
asked = cpu_devices.split_batch_on_cpu(sys.argv[1], sys.argv[2] == 'multi')
print(asked, jax.device_count())
"""


def ask(batch_norm: str, processes: str = 'one', **environment) -> str:
  """`asked devices` of a fresh process that asks, on the CPU."""
  env = {'JAX_PLATFORMS': 'cpu', 'PATH': '', **environment}
  out = subprocess.run(
      [sys.executable, '-c', ASK, batch_norm, processes], capture_output=True, text=True,
      check=True, env=env,
  )  # fmt: skip
  return out.stdout.split()


def test_two_host_devices_for_whole_batch_statistics():
  count = str(min(cpu_devices.CPU_DEVICES, cpu_devices.cores()))
  expected = [count, count] if count != '1' else ['0', '1']  # one core: one device
  assert ask('global') == expected


@pytest.mark.parametrize(
    'batch_norm, processes, environment, devices',
    [
        ('device', 'one', {}, '1'),  # per-device statistics: the count would change the training
        ('global', 'multi', {}, '1'),  # a multi-process run keeps its own layout
        ('global', 'one', {'XLA_FLAGS': '--xla_force_host_platform_device_count=3'}, '3'),
        ('global', 'one', {'JAX_NUM_CPU_DEVICES': '1'}, '1'),
    ],
)
def test_keeps_the_count_otherwise(batch_norm, processes, environment, devices):
  assert ask(batch_norm, processes, **environment) == ['0', devices]


@pytest.mark.slow
def test_train_py_splits_the_default_recipe(tmp_path):
  """The command, as a user runs it: no device flag, the default recipe (on fewer images)."""
  env = {k: v for k, v in os.environ.items() if k not in ('XLA_FLAGS', 'JAX_NUM_CPU_DEVICES')}
  env['JAX_PLATFORMS'] = 'cpu'
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  flags = ['--config.num_train_steps=2', '--config.progress_bar=False']
  flags.append('--config.model=resnet_cifar8')
  out = subprocess.run(
      [sys.executable, os.path.join(repo, 'train.py'), f'--workdir={tmp_path}', *flags],
      capture_output=True, text=True, env=env, cwd=tmp_path,
  )  # fmt: skip
  assert out.returncode == 0, out.stderr[-2000:]
  split = cpu_devices.cores() >= 2
  assert ('split over 2 CPU devices' in out.stdout) is split, out.stdout
