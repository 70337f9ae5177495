"""Evaluates trained runs: `python evaluate.py --workdir=DIR [--compare=DIR2] [--config.k=v ...]`.

Reads the run's config from `WORKDIR/config.json` (with `--config.key=value` overrides on top,
e.g. `--config.eval_batch_size=100`) and its checkpoints; writes `WORKDIR/eval/`: report.json,
mixing.png, cam.png and one PNG per robustness measure (occlusion, FGSM, reliability,
corruptions). Several workdirs (`--workdir=A,B` or `--compare=B`) are evaluated one by one and
then printed side by side, each measure of all runs in one `*_compare.png`.

Each measure can be switched off for a quick evaluation: `--noocclusion --nofgsm --nocalibration
--nocorruptions --ood=` (OOD sets: `gaussian_noise`, `uniform_noise`, `shapes`, `textures`,
`folder:PATH`, `tfds:NAME`).

`python evaluate.py --show-mixing [--config=configs/X.py] [--workdir=DIR]` only draws the
mixed training inputs of a config, before any training (to `WORKDIR/eval/mixing.png`).
"""

import dataclasses
import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from cutmix_jax import cli

_CONFIG = cli.define_config_flag(
    'Config file, for --show-mixing only; a run is evaluated with its own config.json. '
    '--config.key=value overrides fields of either.'
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
_OCCLUSION = flags.DEFINE_bool(
    'occlusion', True, 'Top-1 accuracy under centre / boundary occlusion and Mixup blends.'
)
_FGSM = flags.DEFINE_bool('fgsm', True, 'Top-1 accuracy under FGSM at epsilon 1, 2, 4, 8 / 255.')
_CALIBRATION = flags.DEFINE_bool(
    'calibration', True, 'Expected calibration error, NLL and the reliability diagram.'
)
_CORRUPTIONS = flags.DEFINE_bool(
    'corruptions', True, 'Top-1 accuracy under 6 corruptions at 5 severities.'
)
_OOD = flags.DEFINE_list(
    'ood',
    ['gaussian_noise', 'uniform_noise'],
    'Out-of-distribution sets for max-softmax detection (AUROC): gaussian_noise, uniform_noise, '
    'or a data source (shapes, textures, folder:PATH, tfds:NAME); empty: none.',
)


def _workdirs():
  names = _WORKDIR.value.split(',') + (_COMPARE.value.split(',') if _COMPARE.value else [])
  return [name for name in names if name]


def show_mixing(workdir: str, overrides: dict) -> None:
  """Writes the mixing grid of the --config file (or of the workdir's run) to WORKDIR/eval."""
  from cutmix_jax import builders  # pylint: disable=import-outside-toplevel
  from cutmix_jax import config_checks  # pylint: disable=import-outside-toplevel
  from cutmix_jax.evaluation import checkpoints  # pylint: disable=import-outside-toplevel
  from cutmix_jax.evaluation import run  # pylint: disable=import-outside-toplevel

  own_config = os.path.isfile(os.path.join(workdir, 'config.json'))
  use_own = own_config and not flags.FLAGS['config'].present
  config = checkpoints.load_config(workdir, overrides) if use_own else _CONFIG.value
  try:
    config_checks.check_config(config)
  except OSError as error:  # ml_collections reads the --config file lazily, on first use
    raise config_checks.ConfigError(cli.one_line(error)) from None
  out_dir = os.path.join(workdir, run.EVAL_DIR)
  cli.check_writable_directory(out_dir, f'--workdir={workdir}: eval')
  dataset = builders.load_run_dataset(config)
  print(run.write_mixing_grid(config, dataset, os.path.join(out_dir, 'mixing.png')))


def eval_options():
  """The `EvalOptions` of the measure flags."""
  from cutmix_jax.evaluation import run  # pylint: disable=import-outside-toplevel

  defaults = run.EvalOptions()
  return dataclasses.replace(
      defaults,
      hole_fractions=defaults.hole_fractions if _OCCLUSION.value else (),
      fgsm_epsilons=defaults.fgsm_epsilons if _FGSM.value else (),
      calibration=_CALIBRATION.value,
      corruptions=defaults.corruptions if _CORRUPTIONS.value else (),
      ood_sets=tuple(name for name in _OOD.value if name),
  )


def evaluate_all(workdirs, overrides: dict) -> None:
  """Evaluates each workdir, prints its table, then all side by side if there are several."""
  from cutmix_jax import config_checks  # pylint: disable=import-outside-toplevel
  from cutmix_jax.evaluation import checkpoints  # pylint: disable=import-outside-toplevel
  from cutmix_jax.evaluation import ood  # pylint: disable=import-outside-toplevel
  from cutmix_jax.evaluation import report  # pylint: disable=import-outside-toplevel
  from cutmix_jax.evaluation import run  # pylint: disable=import-outside-toplevel

  options = eval_options()
  ood.check_sets(options.ood_sets)
  configs = [checkpoints.load_config(w, overrides) for w in workdirs]
  for config in configs:
    config_checks.check_config(config)
  for workdir in workdirs:  # every workdir is checked before the long work starts
    checkpoints.checkpoint_directory(workdir)
    cli.check_writable_directory(os.path.join(workdir, run.EVAL_DIR), f'--workdir={workdir}: eval')
  reports = []
  for workdir, config in zip(workdirs, configs):
    reports.append(run.evaluate_run(config, workdir, options))
    print(report.format_table(reports[-1:]))
    print(
        'written: '
        + ', '.join(reports[-1]['pictures'].values())
        + ', '
        + os.path.join(workdir, run.EVAL_DIR, 'report.json')
        + '\n'
    )
  if len(reports) > 1:
    comparison = run.compare_runs(reports, os.path.join(workdirs[0], run.EVAL_DIR))
    print(report.format_table(reports))
    print('written: ' + ', '.join(comparison['pictures'].values()))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  from cutmix_jax import config_checks  # pylint: disable=import-outside-toplevel
  from cutmix_jax.evaluation import checkpoints  # pylint: disable=import-outside-toplevel
  from cutmix_jax.evaluation import ood  # pylint: disable=import-outside-toplevel

  overrides = config_flags.get_override_values(flags.FLAGS['config'])
  logging.set_verbosity(logging.WARNING)  # no INFO lines of every checkpoint read
  try:
    if _SHOW_MIXING.value:
      show_mixing(_workdirs()[0], overrides)
    else:
      evaluate_all(_workdirs(), overrides)
  except (checkpoints.WorkdirError, config_checks.ConfigError, ood.OodSetError) as error:
    sys.exit(f'error: {error}')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
