"""Evaluates trained runs: `evaluate.py`, `python -m cutmix_jax.evaluate` and `cutmix-evaluate`.

`--workdir=DIR [--compare=DIR2] [--config.k=v ...]`.

Reads the run's config from `WORKDIR/config.json` (with `--config.key=value` overrides on top,
e.g. `--config.eval_batch_size=100`) and its checkpoints; writes `WORKDIR/eval/`: report.json,
mixing.png, cam.png, curves.png (the training curves) and one PNG per robustness measure
(occlusion, FGSM, reliability, corruptions). Several workdirs (`--workdir=A,B` or `--compare=B`)
are evaluated one by one and then printed side by side, each measure of all runs in one
`*_compare.png`.

Each measure can be switched off for a quick evaluation: `--noocclusion --nofgsm --nocalibration
--nocorruptions --ood=` (OOD sets: `gaussian_noise`, `uniform_noise`, `cifar10_mini`, `shapes`,
`textures`, `folder:PATH`, `tfds:NAME`).

`evaluate.py --show-mixing [--config=FILE|RECIPE] [--workdir=DIR]` only draws the
mixed training inputs of a config, before any training (to `WORKDIR/eval/mixing.png`).
"""

import os

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from cutmix_jax import extras
from cutmix_jax import recipes
from cutmix_jax.commands import command_line
from cutmix_jax.config import checks
from cutmix_jax.config import storage
from cutmix_jax.config import workdir_files
from cutmix_jax.errors import UserError
from cutmix_jax.evaluation import ood
from cutmix_jax.evaluation import report
from cutmix_jax.evaluation import run
from cutmix_jax.evaluation import workdir as workdir_lib
from cutmix_jax.training import run_config

DEFAULT_CONFIG = recipes.path('default')
_CONFIG = command_line.define_config_flag(
    'Config file, for --show-mixing only; a run is evaluated with its own config.json. '
    '--config.key=value overrides fields of either.',
    DEFAULT_CONFIG,
    fields_of="the run's config.json",
)
_WORKDIR = flags.DEFINE_string(
    'workdir', 'runs/default', 'Training workdir to evaluate; several separated by commas.'
)
_COMPARE = flags.DEFINE_string(
    'compare', '', 'More workdirs (comma-separated) to evaluate and print side by side.'
)
_SHOW_MIXING = flags.DEFINE_bool(
    'show_mixing',
    False,
    'Only write WORKDIR/eval/mixing.png: train images mixed by every '
    'method, from --config (or WORKDIR/config.json if --config is not given); no checkpoint.',
)
flags.DEFINE_alias('show-mixing', 'show_mixing')
_SWITCHES = {  # --[no]NAME for every measure that can be switched off
    measure.name: flags.DEFINE_bool(measure.name, True, measure.flag_help)
    for measure in run.MEASURES
    if getattr(measure, 'flag_help', None)
}
_OOD = flags.DEFINE_list(
    'ood',
    list(ood.NOISE_SETS),
    'Out-of-distribution sets for max-softmax detection (AUROC): gaussian_noise, uniform_noise, '
    'or a data source (cifar10_mini, shapes, textures, folder:PATH, tfds:NAME); empty: none.',
)


def _split(value: str) -> list:
  """Workdirs separated by commas; a workdir whose own name holds a comma (it exists as a
  whole) is one."""
  if not value:
    return []
  if ',' in value and storage.path(value).is_dir():
    return [value]
  return [name for name in value.split(',') if name]


def _workdirs():
  return _split(_WORKDIR.value) + _split(_COMPARE.value)


def show_mixing(workdir: str, overrides: dict) -> None:
  """Writes the mixing grid of the --config file (or of the workdir's run) to WORKDIR/eval."""
  from cutmix_jax.training import run_builder  # pylint: disable=import-outside-toplevel

  own_config = storage.path(workdir_files.config_path(workdir)).is_file()
  use_own = own_config and not flags.FLAGS['config'].present
  try:
    config = workdir_lib.load_config(workdir, overrides) if use_own else _CONFIG.value
    config = run_config.check_config(config)
  except OSError as error:  # ml_collections reads the --config file lazily, on first use
    raise checks.ConfigError(command_line.one_line(error)) from None
  out_dir = workdir_files.eval_dir(workdir)
  command_line.check_writable_directory(out_dir, f'--workdir={workdir}: eval')
  dataset = run_builder.load_run_dataset(config)
  print(run.write_mixing_grid(config, dataset, config.mix, os.path.join(out_dir, 'mixing.png')))


def chosen_measures() -> list:
  """The measures the flags leave on, with their default settings (OOD: the --ood sets)."""
  sets = tuple(name for name in _OOD.value if name)
  chosen = []
  for measure in run.default_measures():
    if measure.name in _SWITCHES and not _SWITCHES[measure.name].value:
      continue
    if measure.name == 'ood':
      if not sets:
        continue
      measure = ood.OodDetection(sets)
    chosen.append(measure)
  return chosen


def evaluate_all(workdirs, overrides: dict) -> None:
  """Evaluates each workdir, prints its table, then all side by side if there are several."""
  measures = chosen_measures()
  ood.check_sets(next((m.sets for m in measures if m.name == 'ood'), ()), load=True)
  configs = [workdir_lib.load_config(w, overrides) for w in workdirs]
  configs = [run_config.check_config(config) for config in configs]
  for workdir in workdirs:  # every workdir is checked before the long work starts
    workdir_lib.checkpoint_directory(workdir)
    command_line.check_writable_directory(
        workdir_files.eval_dir(workdir), f'--workdir={workdir}: eval'
    )
  names = run.run_names(workdirs)
  trained_on = {(c.data.source, c.model) for c in configs}
  if len(trained_on) > 1:
    differ = ', '.join(f'{data} / {model}' for data, model in sorted(trained_on))
    print(f'note: the runs differ in data or model: {differ}')
  reports = []
  for workdir, config, name in zip(workdirs, configs, names):
    reports.append(run.evaluate_run(config, workdir, measures, name=name))
    print(report.format_table(reports[-1:], measures))
    written = list(reports[-1]['pictures'].values())
    written.append(os.path.join(workdir_files.eval_dir(workdir), 'report.json'))
    print('written: ' + ', '.join(written) + '\n')
  if len(reports) > 1:
    comparison = run.compare_runs(reports, measures, workdir_files.eval_dir(workdirs[0]))
    print(report.format_table(reports, measures))
    print('written: ' + ', '.join(comparison['pictures'].values()))


def main(argv):
  command_line.refuse_arguments(argv)
  for workdir in _workdirs():
    extras.require_bucket_support(workdir)
  overrides = config_flags.get_override_values(flags.FLAGS['config'])
  logging.set_verbosity(logging.WARNING)  # no INFO lines of every checkpoint read
  command_line.quiet_background_errors()
  try:
    if _SHOW_MIXING.value:
      show_mixing(_workdirs()[0], overrides)
    else:
      evaluate_all(_workdirs(), overrides)
  except UserError as error:
    command_line.stop(str(error))


def launch() -> None:
  """Parses the flags and evaluates (what every entry point calls)."""
  app.run(main, flags_parser=command_line.flag_parser(DEFAULT_CONFIG))
