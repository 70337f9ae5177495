"""The whole evaluation of one training workdir, written to `WORKDIR/eval/`.

Accuracy of the best and the last checkpoint; with the best one, class activation maps,
weakly-supervised localization (datasets with boxes) and occlusion robustness; pictures of the
mixed training inputs, the CAMs and the occlusion curves; all summed up in `report.json`.
"""

import dataclasses
import functools
import os
import time
from typing import Callable, Dict, Sequence, Tuple

import jax
import numpy as np

from cutmix_jax import builders
from cutmix_jax import mixing
from cutmix_jax import train_step as steps
from cutmix_jax.evaluation import accuracy
from cutmix_jax.evaluation import adversarial
from cutmix_jax.evaluation import calibration as calibration_lib
from cutmix_jax.evaluation import cam
from cutmix_jax.evaluation import checkpoints
from cutmix_jax.evaluation import confidence
from cutmix_jax.evaluation import corruptions as corruptions_lib
from cutmix_jax.evaluation import curves
from cutmix_jax.evaluation import localization
from cutmix_jax.evaluation import occlusion
from cutmix_jax.evaluation import ood
from cutmix_jax.evaluation import pictures
from cutmix_jax.evaluation import report as report_lib
from cutmix_jax.evaluation import training_inputs

EVAL_DIR = 'eval'


@dataclasses.dataclass(frozen=True)
class EvalOptions:
  """What the evaluation sweeps and draws.

  Attributes:
    thresholds: CAM thresholds (fractions of each map's maximum) for localization.
    hole_fractions: sides of the occlusion squares, as fractions of the image side (empty: no
      occlusion study).
    mixup_lambdas: weights of the other image in the in-between samples.
    num_cam_pictures: eval images in the CAM grid.
    num_mixing_pictures: train images per mix method in the mixing grid.
    fgsm_epsilons: FGSM strengths in [0, 1] pixel units (empty: no FGSM).
    ood_sets: OOD sets: `ood.NOISE_SETS` names or data sources (empty: no OOD detection).
    calibration: measure ECE, NLL and the reliability diagram.
    corruptions: corruptions to measure (empty: none).
  """

  thresholds: Tuple[float, ...] = localization.THRESHOLDS
  hole_fractions: Tuple[float, ...] = occlusion.HOLE_FRACTIONS
  mixup_lambdas: Tuple[float, ...] = occlusion.MIXUP_LAMBDAS
  num_cam_pictures: int = 16
  num_mixing_pictures: int = 8
  fgsm_epsilons: Tuple[float, ...] = adversarial.EPSILONS
  ood_sets: Tuple[str, ...] = ood.NOISE_SETS
  calibration: bool = True
  corruptions: Tuple[str, ...] = corruptions_lib.CORRUPTIONS


def write_mixing_grid(config, dataset, path: str, count: int = 8) -> str:
  """PNG of the run's first train images mixed by every method (what the model trains on)."""
  mix = mixing.MixConfig.from_any(config.mix)
  examples = training_inputs.mixed_examples(dataset, mix, count, seed=config.seed)
  clean = examples['none'][0]
  shown, notes = {}, {}
  for method, (images, targets) in examples.items():
    shown[method] = (pictures.to_pixels(images, dataset.mean, dataset.std), targets)
    if method in ('cutmix', 'mixup'):
      notes[method] = training_inputs.pair_notes(clean, images, targets)
  trained_with = (
      'no mixing' if mix.method == 'none' else f'{mix.method} ({mix.level} level), prob {mix.prob}'
  )
  title = (
      f'{config.data.source}: first train images, augmented, mixed by each method (prob 1); '
      f'this config trains with {trained_with}'
  )
  return pictures.mixing_grid(shown, dataset.class_names, title, path, notes)


def accuracies(restored: Dict[str, checkpoints.Restored], dataset) -> dict:
  """Top-1 / top-5 error (%) and loss of each restored checkpoint over the eval split."""
  p_eval_step = jax.pmap(
      functools.partial(steps.eval_step, preprocess=dataset.eval_preprocess), axis_name=steps.AXIS
  )
  by_step, results = {}, {}
  for name, checkpoint in restored.items():
    if checkpoint.step not in by_step:
      by_step[checkpoint.step] = accuracy.evaluate(
          p_eval_step, steps.replicate(checkpoint.state), dataset
      )
    metrics = by_step[checkpoint.step]
    results[name] = {
        'step': checkpoint.step,
        'top1_error': metrics['eval_top1_error'],
        'top5_error': metrics['eval_top5_error'],
        'loss': metrics['eval_loss'],
    }
  return results


def cam_examples(kept: Sequence[dict], count: int, num_classes: int) -> dict:
  """Up to `count` examples of the kept rows, the classes taking turns (an eval split sorted by
  class still shows every class), in eval order within a class."""
  rows = {k: np.concatenate([r[k] for r in kept]) for k in kept[0]}
  turn = np.zeros(len(rows['label']), np.int64)  # the example's rank within its class
  for label in range(num_classes):
    of_class = rows['label'] == label
    turn[of_class] = np.arange(of_class.sum())
  order = np.lexsort((rows['label'], turn))[:count]
  return {k: v[order] for k, v in rows.items()}


def cams_and_localization(state, dataset, options: EvalOptions) -> Tuple[dict, dict]:
  """Localization accuracy over the eval split and some examples with their CAMs.

  Args:
    state: the replicated TrainState.
    dataset: a `cutmix_jax.data.Dataset`; without boxes, only as much of the eval split is read
      as gives every class `num_cam_pictures / K` examples.
    options: thresholds and the number of examples kept.

  Returns:
    `(localization summary or {'skipped': reason}, examples as host arrays: image, label,
    predicted, cam_predicted, cam_true and box if any)`.
  """
  p_cam_step = jax.pmap(
      functools.partial(cam.cam_step, preprocess=dataset.eval_preprocess), axis_name=steps.AXIS
  )
  per_class = -(-options.num_cam_pictures // dataset.num_classes)
  hits, seen, kept = np.zeros((2, len(options.thresholds)), np.int64), 0, []
  counts = np.zeros(dataset.num_classes, np.int64)
  for batch in dataset.eval_batches():
    if counts.min() >= per_class and not dataset.has_boxes:
      break
    rows = confidence.valid_rows({**batch, **jax.device_get(p_cam_step(state, batch))})
    if counts.min() < per_class:
      kept.append(rows)
      counts += np.bincount(rows['label'], minlength=dataset.num_classes)
    if dataset.has_boxes:
      hits += localization.count_hits(rows, options.thresholds)
    seen += len(rows['label'])
  samples = cam_examples(kept, options.num_cam_pictures, dataset.num_classes)
  if not dataset.has_boxes:
    return {'skipped': 'the eval split has no object boxes'}, samples
  return localization.summarize(hits[0], hits[1], seen, options.thresholds), samples


def write_cam_grid(samples: dict, summary: dict, dataset, path: str) -> str:
  """PNG of the first eval images with their CAMs, true boxes and CAM boxes (best threshold)."""
  names = dataset.class_names
  captions = [
      f'pred {names[p]}\ntrue {names[t]}' for p, t in zip(samples['predicted'], samples['label'])
  ]
  predicted_boxes, threshold = None, None
  if 'best' in summary:
    threshold = summary['best']['threshold']
    predicted_boxes = localization.cam_boxes(samples['cam_predicted'], threshold)
  return pictures.cam_grid(
      pictures.to_pixels(samples['image'], dataset.mean, dataset.std),
      samples['cam_predicted'],
      captions,
      samples['predicted'] == samples['label'],
      path,
      true_boxes=samples.get('box'),
      predicted_boxes=predicted_boxes,
      threshold=threshold,
  )


def robustness(state, dataset, options: EvalOptions) -> dict:
  """Occlusion and in-between curves of the replicated `state` (see `occlusion.measure`)."""
  height, width, _ = dataset.image_shape
  spec = occlusion.perturbations(height, width, options.hole_fractions, options.mixup_lambdas)
  p_step = jax.pmap(
      functools.partial(occlusion.perturbed_step, preprocess=dataset.eval_preprocess),
      axis_name=steps.AXIS,
      in_axes=(0, 0, None, None),
  )
  return occlusion.measure(p_step, state, dataset, spec)


def _timed(say: Callable[[str], None], label: str, measure: Callable[[], dict]) -> dict:
  """Runs `measure()` between two progress lines: its label, then its wall-clock."""
  say(f'  {label} ...')
  start = time.perf_counter()
  result = measure()
  say(f'  {label}: {time.perf_counter() - start:.0f} s')
  return result


def _robustness_measures(state, dataset, options: EvalOptions, batch_size: int, say) -> dict:
  """Occlusion, FGSM, calibration, OOD detection and corruptions of the best checkpoint; each
  is `{'skipped': 'switched off'}` when its option is empty."""
  off = {'skipped': 'switched off'}
  measures = {m: dict(off) for m in ('occlusion', 'fgsm', 'calibration', 'ood', 'corruptions')}
  if options.hole_fractions:
    occlusion_curves = lambda: robustness(state, dataset, options)
    measures['occlusion'] = dict(
        _timed(say, 'occlusion robustness', occlusion_curves), checkpoint='best'
    )
  if options.fgsm_epsilons:
    fgsm = lambda: adversarial.measure(state, dataset, options.fgsm_epsilons)
    measures['fgsm'] = _timed(say, 'FGSM robustness', fgsm)
  if options.calibration or options.ood_sets:
    scores = confidence.of_eval_split(state, dataset)
    if options.calibration:
      correct = scores['predicted'] == scores['label']
      measures['calibration'] = calibration_lib.summarize(
          scores['confidence'], correct, scores['true_log_prob']
      )
    if options.ood_sets:
      detect = lambda: ood.measure(
          state, dataset, scores['confidence'], options.ood_sets, batch_size
      )
      label = f'out-of-distribution detection against {", ".join(options.ood_sets)}'
      measures['ood'] = _timed(say, label, detect)
  if options.corruptions:
    corrupted = lambda: corruptions_lib.measure(state, dataset, options.corruptions)
    label = f'{len(options.corruptions)} corruptions at 5 severities'
    measures['corruptions'] = _timed(say, label, corrupted)
  return measures


def run_name(workdir: str) -> str:
  return os.path.basename(os.path.normpath(workdir))


def evaluate_run(
    config, workdir: str, options: EvalOptions = EvalOptions(), say: Callable[[str], None] = print
) -> dict:
  """Evaluates the checkpoints of `workdir`; writes PNGs and `report.json` to `WORKDIR/eval`.

  `say` gets a line of progress before each long part.

  Raises:
    checkpoints.WorkdirError: if the workdir holds no checkpoint.
    config_checks.ConfigError: if the data of the config (with overrides) cannot be loaded.

  Returns:
    The report dict (as written to `report.json`).
  """
  checkpoints.checkpoint_directory(workdir)  # fail before loading any data
  dataset = builders.load_run_dataset(config)
  model = builders.build_model(config, dataset.num_classes)
  restored = checkpoints.restore_best_and_last(config, workdir, model, dataset)
  out_dir = os.path.join(workdir, EVAL_DIR)
  os.makedirs(out_dir, exist_ok=True)
  best = steps.replicate(restored['best'].state)
  name, chance = run_name(workdir), 100.0 / dataset.num_classes
  mixing_label = 'no mixing' if config.mix.method == 'none' else config.mix.method
  say(f'{workdir}: CAMs and localization of the best checkpoint (step {restored["best"].step})')
  summary, samples = cams_and_localization(best, dataset, options)
  say(f'{workdir}: accuracy of the best and the last checkpoint')
  report = {
      'run': name,
      'workdir': os.path.abspath(workdir),
      'config': {
          'dataset': config.data.source,
          'model': config.model,
          'mix_method': config.mix.method,
          'eval_batch_size': config.eval_batch_size,
      },
      'chance': chance,
      'curves': curves.of_workdir(workdir, mixing_label),
      'accuracy': accuracies(restored, dataset),
      'localization': dict(summary, checkpoint='best'),
      'pictures': {
          'mixing': write_mixing_grid(
              config, dataset, os.path.join(out_dir, 'mixing.png'), options.num_mixing_pictures
          ),
          'cam': write_cam_grid(samples, summary, dataset, os.path.join(out_dir, 'cam.png')),
      },
  }
  report.update(_robustness_measures(best, dataset, options, config.eval_batch_size, say))
  report['pictures'].update(draw_measures([report], out_dir))
  report_lib.write_json(report, os.path.join(out_dir, 'report.json'))
  return report


_FIGURES = {
    'curves': pictures.curves_figure,
    'occlusion': pictures.occlusion_figure,
    'fgsm': pictures.fgsm_figure,
    'calibration': pictures.reliability_figure,
    'corruptions': pictures.corruption_figure,
}
_WITH_CHANCE = ('occlusion', 'fgsm')


def draw_measures(reports: Sequence[dict], out_dir: str, suffix: str = '') -> Dict[str, str]:
  """One PNG per measure that every report has, the runs side by side; measure -> path."""
  paths = {}
  for measure, draw in _FIGURES.items():
    if all('skipped' not in r[measure] for r in reports):
      by_run = {r['run']: r[measure] for r in reports}
      path = os.path.join(out_dir, f'{measure}{suffix}.png')
      extra = (reports[0]['chance'],) if measure in _WITH_CHANCE else ()
      paths[measure] = draw(by_run, path, *extra)
  return paths


def compare_runs(reports: Sequence[dict], out_dir: str) -> dict:
  """Writes each measure of several runs in one PNG (`*_compare.png`) and `compare.json`."""
  comparison = {
      'runs': [r['workdir'] for r in reports],
      'pictures': draw_measures(reports, out_dir, '_compare'),
      'reports': list(reports),
  }
  report_lib.write_json(comparison, os.path.join(out_dir, 'compare.json'))
  return comparison
