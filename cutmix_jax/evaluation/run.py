"""The whole evaluation of one training workdir, written to `WORKDIR/eval/`: a walk over measures.

`MEASURES` is the table of every measure (each a class in its own module: `accuracy`,
`localization` with `cam`, `curves`, `occlusion`, `adversarial` (FGSM), `calibration`, `ood`,
`corruptions`). `evaluate_run` restores the best and the last checkpoint, runs the measures it is
given (the others are reported as switched off), draws the mixed training inputs and each
measure's figure, and writes `report.json`; `compare_runs` draws several runs side by side.
"""

import os
import time
from typing import Callable, Dict, Optional, Sequence

from cutmix_jax.config import storage
from cutmix_jax.config import workdir_files
from cutmix_jax.data import augment
from cutmix_jax.evaluation import accuracy
from cutmix_jax.evaluation import adversarial
from cutmix_jax.evaluation import calibration
from cutmix_jax.evaluation import corruptions
from cutmix_jax.evaluation import curves
from cutmix_jax.evaluation import localization
from cutmix_jax.evaluation import measure as measure_lib
from cutmix_jax.evaluation import mixed_inputs
from cutmix_jax.evaluation import occlusion
from cutmix_jax.evaluation import ood
from cutmix_jax.evaluation import per_class
from cutmix_jax.evaluation import pictures
from cutmix_jax.evaluation import report as report_lib
from cutmix_jax.evaluation import workdir as workdir_lib
from cutmix_jax.training import run_builder

# Every measure, in the order of the report and the table. A new measure is a module with its
# class and one line here; `evaluate.py` gives it a --[no]NAME flag when it has a `flag_help`.
MEASURES = (
    accuracy.Accuracy,
    per_class.PerClass,
    localization.Localization,
    curves.Curves,
    occlusion.Occlusion,
    adversarial.Fgsm,
    calibration.Calibration,
    ood.OodDetection,
    corruptions.Corruptions,
)


def default_measures() -> list:
  """One instance of every measure, with its default settings."""
  return [measure_type() for measure_type in MEASURES]


def write_mixing_grid(config, dataset, mix, path: str, count: int = 8) -> str:
  """PNG of the run's first train images mixed by every method (what the model trains on)."""
  examples = mixed_inputs.mixed_examples(dataset, mix, count, seed=config.seed)
  clean = examples['none'][0]
  shown, notes = {}, {}
  for method, (images, targets) in examples.items():
    shown[method] = (augment.denormalize(images, dataset.mean, dataset.std), targets)
    if method in ('cutmix', 'mixup'):
      notes[method] = mixed_inputs.pair_notes(clean, images, targets)
  trained_with = (
      'no mixing' if mix.method == 'none' else f'{mix.method} ({mix.level} level), prob {mix.prob}'
  )
  title = (
      f'{config.data.source}: first train images, augmented, mixed by each method (prob 1); '
      f'this config trains with {trained_with}'
  )
  return pictures.mixing_grid(shown, dataset.class_names, title, path, notes)


def _timed(say: Callable[[str], None], label: str, measure: Callable[[], dict]) -> dict:
  """Runs `measure()` between two progress lines: its label, then its wall-clock."""
  say(f'  {label} ...')
  start = time.perf_counter()
  result = measure()
  say(f'  {label}: {time.perf_counter() - start:.0f} s')
  return result


def run_names(workdirs: Sequence[str]) -> list:
  """A label for each workdir: its last path parts, as few as keep the labels distinct
  (`A/run` and `B/run`, not `run` twice)."""
  parts = [os.fspath(storage.path(w).absolute()).rstrip('/').split('/') for w in workdirs]
  for count in range(1, max(len(p) for p in parts) + 1):
    names = ['/'.join(p[-count:]) for p in parts]
    if len(set(names)) == len(names):
      return names
  return list(workdirs)


def evaluate_run(
    config,
    workdir: str,
    measures: Optional[Sequence] = None,
    say: Callable[[str], None] = print,
    num_mixing_pictures: int = 8,
    name: str = '',
) -> dict:
  """Evaluates the checkpoints of `workdir`; writes PNGs and `report.json` to `WORKDIR/eval`.

  Args:
    config: the run's config (`workdir.load_config`, or its checked `RunConfig`).
    workdir: the training workdir.
    measures: measure instances (of `MEASURES`) to run; the others are reported as
      `{'skipped': 'switched off'}`. None: `default_measures()`.
    say: gets a line of progress before and after each measure.
    num_mixing_pictures: train images per mix method in `mixing.png`.
    name: the run's label in tables and figures; '' for the workdir's base name.

  Raises:
    workdir.WorkdirError: if the workdir holds no checkpoint.
    checks.ConfigError: if the config (with overrides) or its data cannot be used.

  Returns:
    The report dict (as written to `report.json`).
  """
  measures = default_measures() if measures is None else list(measures)
  workdir_lib.checkpoint_directory(workdir)  # fail before loading any data
  run = run_builder.build_run(config)
  config = run.config
  restored = workdir_lib.restore_best_and_last(run, workdir)
  on_devices = {
      which: workdir_lib.Restored(r.step, run.placement.put_state(r.state))
      for which, r in restored.items()
  }
  out_dir = workdir_files.eval_dir(workdir)
  storage.make_dirs(out_dir)
  context = measure_lib.Context(
      config, workdir, out_dir, run.dataset, run.evaluator, on_devices['best'], on_devices['last']
  )
  mixing_path = os.path.join(out_dir, 'mixing.png')
  context.pictures['mixing'] = write_mixing_grid(
      config, run.dataset, config.mix, mixing_path, num_mixing_pictures
  )
  report = {
      'run': name or run_names([workdir])[0],
      'workdir': os.fspath(storage.path(workdir).absolute()),
      'config': {
          'dataset': config.data.source,
          'model': config.model,
          'mix_method': config.mix.method,
          'eval_batch_size': config.eval_batch_size,
      },
      'chance': context.chance,
  }
  say(f'{workdir}: best checkpoint step {restored["best"].step}, last {restored["last"].step}')
  chosen = {m.name: m for m in measures}
  for measure_type in MEASURES:
    measure = chosen.get(measure_type.name)
    if measure is None:
      report[measure_type.name] = {'skipped': 'switched off'}
    else:
      report[measure.name] = _timed(say, measure.title, lambda m=measure: m.measure(context))
  report['pictures'] = {**context.pictures, **draw_measures([report], measures, out_dir)}
  report_lib.write_json(report, os.path.join(out_dir, 'report.json'))
  return report


def draw_measures(
    reports: Sequence[dict], measures: Sequence, out_dir: str, suffix: str = ''
) -> Dict[str, str]:
  """One PNG per measure that has a figure and that every report holds; measure -> path."""
  paths = {}
  for measure in measures:
    if all('skipped' not in r[measure.name] for r in reports):
      by_run = {r['run']: r[measure.name] for r in reports}
      path = os.path.join(out_dir, f'{measure.name}{suffix}.png')
      drawn = measure.figure(by_run, path, reports[0]['chance'])
      if drawn is not None:
        paths[measure.name] = drawn
  return paths


def compare_runs(reports: Sequence[dict], measures: Sequence, out_dir: str) -> dict:
  """Writes each measure of several runs in one PNG (`*_compare.png`) and `compare.json`."""
  comparison = {
      'runs': [r['workdir'] for r in reports],
      'pictures': draw_measures(reports, measures, out_dir, '_compare'),
      'reports': list(reports),
  }
  report_lib.write_json(comparison, os.path.join(out_dir, 'compare.json'))
  return comparison
