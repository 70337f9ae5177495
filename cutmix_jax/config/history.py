"""A resumed run's config against the one its workdir was trained with: refuse silent mixes.

A workdir's `config.json` says how its checkpoints were trained. Resuming with other values of a
field that shapes the run (model, data, mixing, optimizer, seed, batch) would mix two runs in one
set of checkpoints and curves, so it stops with one line naming every changed field, unless the
user allows it (`--allow_config_change`): then the change is logged and the old config is kept in
`config_history.jsonl`. Fields that cannot alter the results (`CADENCE`: logging, evaluation and
checkpoint cadence, the progress bar, the length of training) change with a log line only.
"""

import json
import os
import time
from typing import Any, Callable, Dict, List, Set, Tuple

from cutmix_jax.config import files
from cutmix_jax.config import workdir_files
from cutmix_jax.errors import UserError

CADENCE = (
    'log_every_steps',
    'progress_bar',
    'num_epochs',
    'num_train_steps',
    'eval_every_epochs',
    'eval_batch_size',
    'checkpoint_every_steps',
    'keep_checkpoints',
    'profile_steps',
    'data.tfds_dir',
)


class ConfigChangeError(UserError, ValueError):
  """Resuming with other run-shaping settings than the workdir's; one line for the user."""


def changes(old: Dict[str, Any], new: Dict[str, Any]) -> List[Tuple[str, Any, Any]]:
  """`(dotted key, old value, new value)` of every field that differs (missing: None)."""
  old, new = files.flatten(old), files.flatten(new)
  return [
      (k, old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)
  ]


def _describe(changed: List[Tuple[str, Any, Any]]) -> str:
  return ', '.join(f'{key} {before!r} -> {after!r}' for key, before, after in changed)


def check_resume(
    config,
    workdir: str,
    step: int,
    allow_change: bool,
    say: Callable[[str], None],
    unread: Callable[[Dict[str, Any], Dict[str, Any]], Set[str]] = lambda old, new: set(),
) -> None:
  """Compares `config` with the workdir's `config.json` before resuming at `step`.

  `unread(old, new)` names the dotted keys that neither config reads (another mixing method's
  settings), whose differences change nothing.

  Raises:
    ConfigChangeError: if a run-shaping field differs and `allow_change` is False.
  """
  path = workdir_files.config_path(workdir)
  if not os.path.isfile(path):
    return
  with open(path, encoding='utf-8') as f:
    old = workdir_files.upgraded(json.load(f))
  new = files.as_json(config)
  ignored = unread(old, new)
  changed = [c for c in changes(old, new) if c[0] not in ignored]
  shaping = [c for c in changed if c[0] not in CADENCE]
  if shaping and not allow_change:
    raise ConfigChangeError(
        f'--workdir={workdir} holds a run (step {step}) trained with other settings: '
        f'{_describe(shaping)}; resume with its settings (they are in {path}), use a new '
        '--workdir, or pass --allow_config_change to go on with the new ones'
    )
  if shaping:
    with open(workdir_files.history_path(workdir), 'a', encoding='utf-8') as f:
      f.write(json.dumps({'until_step': step, 'time': time.time(), 'config': old}) + '\n')
    say(f'Config changed at step {step} (--allow_config_change): {_describe(shaping)}; the old '
        f'config is kept in {workdir_files.history_path(workdir)}')  # fmt: skip
  cadence = [c for c in changed if c[0] in CADENCE]
  if cadence:
    say(
        f'Resuming with new cadence settings (they do not change the results): {_describe(cadence)}'
    )
