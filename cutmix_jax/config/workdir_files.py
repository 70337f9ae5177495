"""The files of a run's workdir, named in one place: what `train.py` writes, `evaluate.py` reads.

WORKDIR/config.json            the resolved config of the run
WORKDIR/config_history.jsonl   configs it ran with before an allowed change
WORKDIR/checkpoints/STEP/      orbax checkpoints
WORKDIR/metrics.jsonl          one JSON row per logged step (and TensorBoard events)
WORKDIR/eval/                  what evaluate.py writes
"""

import os

CONFIG = 'config.json'
CONFIG_HISTORY = 'config_history.jsonl'
CHECKPOINTS = 'checkpoints'
METRICS = 'metrics.jsonl'
EVAL = 'eval'
LOCK = 'run.lock'
PROFILE = 'profile'


def config_path(workdir: str) -> str:
  return os.path.join(workdir, CONFIG)


def history_path(workdir: str) -> str:
  return os.path.join(workdir, CONFIG_HISTORY)


def checkpoints_dir(workdir: str) -> str:
  return os.path.join(workdir, CHECKPOINTS)


def metrics_path(workdir: str) -> str:
  return os.path.join(workdir, METRICS)


def eval_dir(workdir: str) -> str:
  return os.path.join(workdir, EVAL)


def lock_path(workdir: str) -> str:
  return os.path.join(workdir, LOCK)


def profile_dir(workdir: str) -> str:
  """Where `config.profile_steps` writes its `jax.profiler` trace (TensorBoard's profile
  plugin or Perfetto open it)."""
  return os.path.join(workdir, PROFILE)
