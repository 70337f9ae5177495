"""A resumed run's config against the one its workdir was trained with: refuse silent mixes.

A workdir's `config.json` says how its checkpoints were trained. Resuming with other values of a
field that shapes the run (model, data, mixing, optimizer, seed, batch) would mix two runs in one
set of checkpoints and curves, so it stops with one line naming every changed field, unless the
user allows it (`--allow_config_change`): then the change is logged and the old config is kept in
`config_history.jsonl`. Fields that cannot alter the results (`CADENCE`: logging, evaluation and
checkpoint cadence, the progress bar, the length of training, the parallelism) change with a log
line only.
"""

import dataclasses
import json
import time
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from cutmix_jax.config import files
from cutmix_jax.config import storage
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
    'parallelism',  # the same per-device program either way (a test shows it bit for bit)
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


class RunConfigError(UserError, ValueError):
  """A workdir's `config.json` that does not read as a config; one line."""


def read_run_config(workdir: str) -> Optional[Dict[str, Any]]:
  """The workdir's `config.json` as a dict (fields renamed since, under their new names), or
  None if it has none.

  Raises:
    RunConfigError: one line, if it is empty, cut short or not a config.
  """
  path = workdir_files.config_path(workdir)
  text = storage.read_text(path)
  if text is None:
    return None
  try:
    config = json.loads(text)
  except ValueError as error:
    config = error
  if not isinstance(config, dict):
    what = 'empty' if not text.strip() else f'not a config ({config})'
    raise RunConfigError(
        f'{path} is {what}; train.py writes it whole, so something else changed it: put back '
        "the run's config (config_history.jsonl keeps earlier ones), or delete it to go on with "
        'the config of this command'
    )
  return workdir_files.upgraded(config)


def check_resume(
    config,
    workdir: str,
    step: int,
    allow_change: bool,
    unread: Callable[[Dict[str, Any], Dict[str, Any]], Set[str]] = lambda old, new: set(),
) -> Optional['Change']:
  """Compares `config` with the workdir's `config.json` before resuming at `step`; writes
  nothing.

  `unread(old, new)` names the dotted keys that neither config reads (another mixing method's
  settings), whose differences change nothing.

  Returns:
    The allowed change, for `Change.keep` to record once the run has resumed; None if the
    run-shaping fields are the same.

  Raises:
    ConfigChangeError: if a run-shaping field differs and `allow_change` is False.
    RunConfigError: if the workdir's `config.json` does not read.
  """
  old = read_run_config(workdir)
  if old is None:
    return None
  path = workdir_files.config_path(workdir)
  new = workdir_files.upgraded(files.as_json(config))  # fields added since: alike on both sides
  ignored = unread(old, new)
  changed = [c for c in changes(old, new) if c[0] not in ignored]
  shaping = [c for c in changed if c[0] not in CADENCE]
  if shaping and not allow_change:
    raise ConfigChangeError(
        f'--workdir={workdir} holds a run (step {step}) trained with other settings: '
        f'{_describe(shaping)}; resume with its settings (they are in {path}), use a new '
        '--workdir, or pass --allow_config_change to go on with the new ones'
    )
  cadence = [c for c in changed if c[0] in CADENCE]
  return Change(workdir, step, old, shaping, cadence) if shaping or cadence else None


@dataclasses.dataclass(frozen=True)
class Change:
  """An allowed change of a resumed run's config, recorded once the run has resumed."""

  workdir: str
  step: int
  old: Dict[str, Any]
  shaping: List[Tuple[str, Any, Any]]
  cadence: List[Tuple[str, Any, Any]]

  def keep(self, say: Callable[[str], None]) -> None:
    """Appends the old config to `config_history.jsonl` (for a run-shaping change) and says
    what changed."""
    if self.shaping:
      path = workdir_files.history_path(self.workdir)
      record = {'until_step': self.step, 'time': time.time(), 'config': self.old}
      storage.append_line(path, json.dumps(record))
      say(f'Config changed at step {self.step} (--allow_config_change): '
          f'{_describe(self.shaping)}; the old config is kept in {path}')  # fmt: skip
    if self.cadence:
      say(
          'Resuming with new cadence settings (they do not change the results): '
          f'{_describe(self.cadence)}'
      )
