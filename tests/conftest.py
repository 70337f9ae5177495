"""Test set-up: eight host CPU devices, so that pmap code really runs on several devices, and one
compilation cache for the run."""

import os
import shutil
import tempfile

# Must happen before JAX initialises its backends; CI sets the same flag.
os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=8')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# One persistent compilation cache for the test run: its worker processes and the trainings they
# start inherit it, so that a program compiled once (the small run's steps, which dozens of
# subprocess trainings compile) is loaded from it afterwards (what it saves: docs/PERFORMANCE.md).
# A loaded program is the compiled one, bit for bit; the run's cache is removed at its end.
_COMPILATION_CACHE = None
if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
  _COMPILATION_CACHE = tempfile.mkdtemp(prefix='cutmix_jax_tests_compiled_')
  os.environ['JAX_COMPILATION_CACHE_DIR'] = _COMPILATION_CACHE
  os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')

import signal  # noqa: E402  (after the XLA flags on purpose)
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

# pytest's unraisable-exception hook imports tracemalloc when it reports an exception ignored in
# a __del__; inside TFDS's lazy imports (etils) that import fails ('LazyModule' object is not
# callable) and turned such a report into a setup error of a tfds test once. Imported here, the
# hook finds it loaded and reports the exception as the warning it is.
import tracemalloc  # noqa: E402,F401  pylint: disable=unused-import

import prng_lowering  # noqa: E402
import pytest  # noqa: E402

from cutmix_jax.config import files  # noqa: E402

# The same bits, compiled in a fraction of the time (tests/prng_lowering.py).
UNROLLED_THREEFRY = prng_lowering.unroll_threefry_on_cpu()

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CONFIG = os.path.join(REPO, 'configs', 'default.py')

# A small but real run: 512 `shapes` images (generated in a second, with object boxes), 8 steps
# an epoch of a global batch of 64, an eval split (100) that the eval batch (48) does not divide,
# so padding and masking are exercised.
SMALL_RUN = {
    'data.source': 'shapes',
    'data.synthetic_num_train': 512,
    'data.synthetic_num_test': 100,
    'batch_size': 64,
    'eval_batch_size': 48,
    'num_epochs': 2,
    'model': 'resnet_cifar8',
    'dtype': 'float32',
    'optimizer.decay_epochs': (),  # a constant learning rate
    'eval_every_epochs': 1,
    'log_every_steps': 2,
    'progress_bar': False,
}


def _override(config, key, value):
  node = config
  *parents, leaf = key.split('.')
  for part in parents:
    node = getattr(node, part)
  setattr(node, leaf, value)


def small_run_config(**overrides):
  """configs/default.py shrunk to a seconds-long run, then `overrides` (`a__b` or 'a.b' keys)."""
  config = files.load(DEFAULT_CONFIG)
  for key, value in {**SMALL_RUN, **overrides}.items():
    _override(config, key.replace('__', '.'), value)
  return config


@pytest.fixture
def small_config():
  """`small_config(**overrides)`: see `small_run_config`."""
  return small_run_config


def train_cli_args(workdir, **overrides):
  """Command line of `python train.py` for the small run plus overrides (`a__b` = `a.b`)."""
  dotted = {**SMALL_RUN, **{k.replace('__', '.'): v for k, v in overrides.items()}}
  flags = [f'--config.{k}={v}' for k, v in dotted.items()]
  return [sys.executable, os.path.join(REPO, 'train.py'), f'--workdir={workdir}'] + flags


@pytest.fixture
def train_cli():
  """`train_cli(workdir, **overrides)` starts `python train.py` on the small run (a Popen)."""

  def start(workdir, env=None, **overrides):
    return subprocess.Popen(
        train_cli_args(workdir, **overrides),
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )

  return start


def wait_for(predicate, process, timeout=300.0):
  """Polls `predicate()` until true; fails if `process` ends first or time runs out."""
  deadline = time.time() + timeout
  while time.time() < deadline:
    if predicate():
      return
    if process.poll() is not None:
      raise AssertionError(f'train.py ended early:\n{process.stdout.read()}')
    time.sleep(0.2)
  process.send_signal(signal.SIGKILL)
  raise AssertionError('timed out waiting for train.py')


def free_port() -> int:
  """A TCP port of this machine that nobody listens on now (for a coordinator)."""
  with socket.socket() as probe:
    probe.bind(('127.0.0.1', 0))
    return probe.getsockname()[1]


def start_two_processes(script, workdir, *args, port):
  """Starts `python script COORDINATOR RANK workdir *args` for ranks 0 and 1, each with 4 host
  CPU devices (a 2-process `jax.distributed` run); returns the two Popen objects (output piped)."""
  env = {
      **os.environ,
      'XLA_FLAGS': '--xla_force_host_platform_device_count=4',
      'PYTHONPATH': os.path.join(REPO, 'tests'),
  }
  return [
      subprocess.Popen(
          [sys.executable, str(script), f'127.0.0.1:{port}', str(rank), str(workdir), *args],
          cwd=REPO,
          env=env,
          text=True,
          stdout=subprocess.PIPE,
          stderr=subprocess.STDOUT,
      )
      for rank in range(2)
  ]


def pytest_sessionfinish(session):  # pylint: disable=unused-argument
  """Removes the run's compilation cache in the process that made it (pytest's main process)."""
  if _COMPILATION_CACHE is not None:
    shutil.rmtree(_COMPILATION_CACHE, ignore_errors=True)
