"""Installs by need and the entry points outside the repo: the ops need only jax and numpy, a
command without its extra says what to install in one line, a built wheel trains the default
recipe from another directory, and the multi-host start-up as the README gives it."""

import glob
import json
import os
import subprocess
import sys
import sysconfig
import zipfile

from conftest import REPO
from conftest import free_port
import pytest

# Modules of the `train` extra that jax does not bring itself (jax needs scipy).
_TRAIN_ONLY = ('absl', 'flax', 'optax', 'orbax', 'ml_collections', 'PIL', 'matplotlib', 'tqdm')

_WITHOUT_TRAIN_EXTRA = f"""
import importlib.abc, os, runpy, sys
BLOCKED = {_TRAIN_ONLY!r}
class Absent(importlib.abc.MetaPathFinder):  # as if the train extra were not installed
  def find_spec(self, name, path=None, target=None):
    if name.split('.')[0] in BLOCKED:
      raise ModuleNotFoundError(f'No module named {{name!r}}', name=name)
sys.meta_path.insert(0, Absent())
import jax, jax.numpy as jnp
import cutmix_jax as cm
images = jnp.ones((4, 8, 8, 3))
mixed, labels = cm.cutmix(jax.random.key(0), images, jnp.arange(4), num_classes=4)
mixed, labels = cm.mix_batch(jax.random.key(0), images, labels, config=cm.MixConfig())
print('ops', mixed.shape, labels.shape, sorted(m for m in BLOCKED if m in sys.modules))
sys.stdout.flush()
command = sys.argv[1]
sys.argv = ['cutmix-' + command, '--workdir=run']
runpy.run_module('cutmix_jax.' + command, run_name='__main__')
"""


@pytest.mark.parametrize('command', ['train', 'evaluate'])
def test_the_ops_need_only_jax_and_numpy_and_a_command_names_its_extra(tmp_path, command):
  done = subprocess.run(
      [sys.executable, '-c', _WITHOUT_TRAIN_EXTRA, command],
      cwd=tmp_path,
      capture_output=True,
      text=True,
      timeout=300,
  )
  assert done.stdout.splitlines()[0] == 'ops (4, 8, 8, 3) (4, 4) []'
  assert done.returncode == 1
  feature = 'training' if command == 'train' else 'evaluation'
  assert done.stderr.strip().splitlines() == [
      f'error: {feature} needs the train extra (absl, flax, optax, orbax.checkpoint, '
      "ml_collections, PIL, matplotlib, tqdm not installed): pip install 'cutmix_jax[train]' "
      "(in a clone: pip install -e '.[train]')"
  ]
  assert os.listdir(tmp_path) == []  # nothing written


def _installed_wheel(tmp_path):
  """A fresh virtualenv holding the wheel built from this checkout (its dependencies come from
  this environment's site-packages, by a path, without this checkout's editable install)."""
  dist = tmp_path / 'dist'
  subprocess.run(
      [sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q',
       '-w', str(dist), REPO],
      check=True, capture_output=True, timeout=600,
  )  # fmt: skip
  (wheel,) = glob.glob(str(dist / '*.whl'))
  venv = tmp_path / 'venv'
  subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True, timeout=300)
  python = str(venv / 'bin' / 'python')
  site = subprocess.run(
      [python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
      check=True, capture_output=True, text=True,
  ).stdout.strip()  # fmt: skip
  with open(os.path.join(site, 'dependencies.pth'), 'w', encoding='utf-8') as f:
    f.write(sysconfig.get_paths()['purelib'] + '\n')
  subprocess.run(
      [python, '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', wheel],
      check=True, capture_output=True, timeout=600,
  )  # fmt: skip
  return wheel, venv


@pytest.mark.slow
def test_a_wheel_trains_the_default_recipe_from_outside_the_repo(tmp_path):
  wheel, venv = _installed_wheel(tmp_path)
  names = zipfile.ZipFile(wheel).namelist()
  assert 'cutmix_jax/recipes/imagenet_resnet50.py' in names
  assert 'cutmix_jax/data/cifar10_mini.tar.gz' in names
  assert not [n for n in names if n.startswith(('configs/', 'tests/', 'train.py'))]
  elsewhere = tmp_path / 'elsewhere'
  elsewhere.mkdir()
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  where = subprocess.run(
      [str(venv / 'bin' / 'python'), '-c', 'import cutmix_jax; print(cutmix_jax.__file__)'],
      cwd=elsewhere, env=env, capture_output=True, text=True, check=True,
  ).stdout  # fmt: skip
  assert where.startswith(str(venv))
  small = ['--config.num_train_steps=2', '--config.batch_size=64', '--config.eval_batch_size=64',
           '--config.progress_bar=False', '--config.data.holdout_per_class=10']  # fmt: skip
  trained = subprocess.run(
      [str(venv / 'bin' / 'cutmix-train'), '--config=default', '--workdir=run', *small],
      cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600,
  )  # fmt: skip
  assert trained.returncode == 0, trained.stderr[-3000:]
  assert 'best eval top-1 error' in trained.stdout
  assert json.load(open(elsewhere / 'run' / 'config.json'))['model'] == 'resnet_cifar20'
  named = subprocess.run(
      [str(venv / 'bin' / 'python'), '-m', 'cutmix_jax.train', '--config=imagenet_resnet5',
       '--workdir=other'], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300,
  )  # fmt: skip
  assert named.returncode == 1 and not (elsewhere / 'other').exists()
  assert (
      named.stderr.strip()
      .splitlines()[-1]
      .startswith('error: --config=imagenet_resnet5: no such config file, nor a recipe (recipes: ')
  )


def _losses(workdir):
  rows = [json.loads(line) for line in open(os.path.join(workdir, 'metrics.jsonl'))]
  return [row['train_loss'] for row in rows if 'train_loss' in row]


@pytest.mark.slow
def test_two_processes_started_as_the_readme_says_train_as_one_host_does(tmp_path):
  # README "Multi-host": the same command on every host with the coordinator and the ranks.
  small = ['--config=default', '--config.num_train_steps=4', '--config.batch_size=64',
           '--config.eval_batch_size=64', '--config.progress_bar=False',
           '--config.log_every_steps=1', '--config.data.holdout_per_class=10',
           '--config.dtype=float32']  # fmt: skip
  command = [sys.executable, '-m', 'cutmix_jax.train', *small]
  two_devices = {**os.environ, 'XLA_FLAGS': '--xla_force_host_platform_device_count=2'}
  address = f'127.0.0.1:{free_port()}'
  hosts = [
      subprocess.Popen(
          command + [f'--workdir={tmp_path / "pod"}', f'--coordinator_address={address}',
                     '--num_processes=2', f'--process_id={rank}'],
          cwd=tmp_path, env=two_devices, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
          text=True,
      )  # fmt: skip
      for rank in range(2)
  ]
  outputs = [host.communicate(timeout=600)[0] for host in hosts]
  assert [host.returncode for host in hosts] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
  four_devices = {**os.environ, 'XLA_FLAGS': '--xla_force_host_platform_device_count=4'}
  subprocess.run(
      command + [f'--workdir={tmp_path / "one"}'],
      cwd=tmp_path, env=four_devices, check=True, capture_output=True, timeout=600,
  )  # fmt: skip
  pod, one = _losses(tmp_path / 'pod'), _losses(tmp_path / 'one')
  # The first step sees the same images and init: each host read its own part of the batch.
  # Later steps drift apart by the order of the gradient sums (gloo across the processes),
  # measured at 7e-4 relative by step 4 in float32.
  assert len(pod) == 4 and pod[0] == pytest.approx(one[0], rel=1e-6)
  assert pod == pytest.approx(one, rel=1e-2)
