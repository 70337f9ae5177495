"""Trains a CutMix model: `train.py`, `python -m cutmix_jax.train` and `cutmix-train`.

`[--config=FILE|RECIPE] [--workdir=DIR] [--config.KEY=VALUE]`. With no flags it trains the
`default` recipe (the built-in 1,000 CIFAR-10 images) into `runs/default`; `--config` takes a
recipe's name (`cutmix_jax.recipes`: imagenet_resnet50, ...) or a config file's path. A workdir
that holds a checkpoint resumes from it. Multi-host: docs/scaling.md.
"""

import os
import signal

from absl import app
from absl import flags
from absl import logging

from cutmix_jax import extras
from cutmix_jax import recipes
from cutmix_jax.commands import command_line
from cutmix_jax.commands import cpu_devices
from cutmix_jax.errors import UserError

DEFAULT_CONFIG = recipes.path('default')
_CONFIG = command_line.define_config_flag(
    'Training config file (a get_config() module); override fields with --config.key=value.',
    DEFAULT_CONFIG,
)
_WORKDIR = flags.DEFINE_string('workdir', 'runs/default', 'Directory for checkpoints and logs.')
_COORDINATOR = flags.DEFINE_string(
    'coordinator_address',
    os.environ.get('JAX_COORDINATOR_ADDRESS', ''),
    'Multi-process: host:port of process 0 (or env JAX_COORDINATOR_ADDRESS).',
)
_NUM_PROCESSES = flags.DEFINE_integer(
    'num_processes',
    int(os.environ.get('JAX_NUM_PROCESSES', '0')),
    'Multi-process: number of processes (or env JAX_NUM_PROCESSES).',
)
_PROCESS_ID = flags.DEFINE_integer(
    'process_id',
    int(os.environ.get('JAX_PROCESS_ID', '-1')),
    'Multi-process: this process index (or env JAX_PROCESS_ID).',
)
_ALLOW_CONFIG_CHANGE = flags.DEFINE_bool(
    'allow_config_change',
    False,
    'Resume a workdir with settings that change the run (model, data, mixing, optimizer, seed, '
    'batch); the old config is kept in config_history.jsonl.',
)
_DISTRIBUTED = flags.DEFINE_bool(
    'distributed',
    False,
    'Call jax.distributed.initialize() with auto-detection (TPU pod slices, SLURM).',
)


def initialize_distributed() -> None:
  """Joins a multi-process run when asked by the flags or the environment."""
  import jax  # pylint: disable=import-outside-toplevel

  if _COORDINATOR.value:
    if _NUM_PROCESSES.value < 1 or _PROCESS_ID.value < 0:
      command_line.stop('--coordinator_address needs --num_processes and --process_id', 2)
    jax.distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  elif _DISTRIBUTED.value:
    jax.distributed.initialize()


def _stopped_before_training(signum, _frame) -> None:
  name = signal.Signals(signum).name
  command_line.stop(f'stopped by {name} before training began; nothing was saved', 128 + signum)


def main(argv):
  command_line.refuse_arguments(argv)
  extras.require_bucket_support(_WORKDIR.value)
  for signum in (signal.SIGTERM, signal.SIGINT):  # the loop takes both over once it trains
    signal.signal(signum, _stopped_before_training)
  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
  command_line.quiet_background_errors()
  multi_process = bool(_COORDINATOR.value) or _DISTRIBUTED.value
  split = cpu_devices.split_batch_on_cpu(_CONFIG.value.get('batch_norm', 'device'), multi_process)
  if split:
    print(f'Each batch is split over {split} CPU devices (faster; BatchNorm over the whole batch)')
  initialize_distributed()
  import jax  # pylint: disable=import-outside-toplevel

  from cutmix_jax.training import train_loop  # pylint: disable=import-outside-toplevel

  if jax.process_index() == 0:
    command_line.check_writable_directory(_WORKDIR.value, '--workdir')
  try:
    result = train_loop.train_and_evaluate(
        _CONFIG.value, _WORKDIR.value, allow_config_change=_ALLOW_CONFIG_CHANGE.value
    )
  except UserError as error:
    command_line.stop(str(error))
  except OSError as error:  # a failed save or write (disk full, read-only), a config file
    command_line.stop(command_line.one_line(error))
  for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, signal.SIG_DFL)
  progress = result.progress
  if progress.best_eval_top1_error is not None:
    print(
        f'best eval top-1 error {progress.best_eval_top1_error:.2f}% at epoch '
        f'{progress.best_epoch} (step {progress.best_step}); workdir {_WORKDIR.value}'
    )


def launch() -> None:
  """Parses the flags and trains (what every entry point calls)."""
  app.run(main, flags_parser=command_line.flag_parser(DEFAULT_CONFIG))
