"""The files of a run's workdir, named in one place: what `train.py` writes, `evaluate.py` reads.

WORKDIR/config.json            the resolved config of the run
WORKDIR/config_history.jsonl   configs it ran with before an allowed change
WORKDIR/checkpoints/STEP/      orbax checkpoints
WORKDIR/metrics.jsonl          one JSON row per logged step (and TensorBoard events)
WORKDIR/eval/                  what evaluate.py writes
"""

import json
import os
from typing import Any, Dict

CONFIG = 'config.json'
CONFIG_HISTORY = 'config_history.jsonl'
CHECKPOINTS = 'checkpoints'
METRICS = 'metrics.jsonl'
EVAL = 'eval'
LOCK = 'run.lock'
PROFILE = 'profile'

# Fields renamed since a run's config.json may have been written: old dotted name -> new, with
# the same value and meaning (a workdir's old config.json still resumes and evaluates).
RENAMED = {'mix.cutmix.switch_prob': 'mix.cutmix.mixup_prob'}  # P(Mixup); timm's is P(CutMix)
# Fields added since, with the value that a run written before them ran with.
ADDED = {
    'optimizer.name': 'sgd',
    'optimizer.schedule': 'step',
    'optimizer.min_learning_rate': 0.0,
    'optimizer.betas': [0.9, 0.999],
    'data.rand_augment': '',
    'data.three_augment': False,
    'data.random_erasing': 0.0,
    'data.repeated_augmentation': 1,
    'data.interpolation': 'bilinear',
    'data.eval_crop_fraction': 0.875,
    'loss': 'softmax_cross_entropy',
    'bce_target_threshold': -1.0,
    'batch_norm': 'device',
}


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


def _parent(config: Dict[str, Any], key: str):
  """`(the dict that holds dotted `key`, or None; the key's last part)`."""
  *parents, leaf = key.split('.')
  node = config
  for part in parents:
    node = node.get(part) if isinstance(node, dict) else None
  return (node if isinstance(node, dict) else None), leaf


def upgraded(config: Dict[str, Any]) -> Dict[str, Any]:
  """A config dict as a run's `config.json` holds it, with `RENAMED` fields under their names
  and the `ADDED` ones that it lacks at the value it ran with."""
  config = json.loads(json.dumps(config))
  for key, value in ADDED.items():
    node, leaf = _parent(config, key)
    if node is not None:
      node.setdefault(leaf, value)
  for old, new in RENAMED.items():
    node, leaf = _parent(config, old)
    if node is not None and leaf in node:
      node[new.rsplit('.', 1)[-1]] = node.pop(leaf)
  return config
