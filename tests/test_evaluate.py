"""Tests of the evaluation tools: CAMs, localization, occlusion, pictures, report and CLI.

A tiny model is trained for one epoch on `shapes` once per module (a few CPU minutes with the
compiles); the metric arithmetic is checked on hand-made maps and boxes with exact answers.
"""

import json
import os
import shutil
import subprocess
import sys

from conftest import small_run_config
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from PIL import Image
import pytest

import cutmix_jax as cm
from cutmix_jax.data import augment
from cutmix_jax.evaluation import accuracy
from cutmix_jax.evaluation import adversarial
from cutmix_jax.evaluation import calibration
from cutmix_jax.evaluation import cam
from cutmix_jax.evaluation import corruptions
from cutmix_jax.evaluation import curves
from cutmix_jax.evaluation import localization
from cutmix_jax.evaluation import measure as measure_lib
from cutmix_jax.evaluation import mixed_inputs
from cutmix_jax.evaluation import occlusion
from cutmix_jax.evaluation import ood
from cutmix_jax.evaluation import per_class
from cutmix_jax.evaluation import report as report_lib
from cutmix_jax.evaluation import run
from cutmix_jax.evaluation import workdir as workdir_lib
from cutmix_jax.ops import mix_config
from cutmix_jax.training import devices
from cutmix_jax.training import eval_driver
from cutmix_jax.training import run_builder
from cutmix_jax.training import train_loop
from cutmix_jax.training import train_state
from cutmix_jax.training.checkpointing import Checkpointer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_TEST = 96
MEASURES = (
    accuracy.Accuracy(),
    per_class.PerClass(),
    localization.Localization(num_pictures=8),
    curves.Curves(),
    occlusion.Occlusion(hole_fractions=(0.0, 0.5, 1.0), mixup_lambdas=(0.0, 0.5)),
    adversarial.Fgsm(epsilons=(0.0, 8 / 255)),
    calibration.Calibration(),
    ood.OodDetection(sets=('uniform_noise', 'shapes')),
    corruptions.Corruptions(names=('gaussian_noise', 'pixelate')),
)


def tiny_config() -> ml_collections.ConfigDict:
  """The tests' small `shapes` run, one epoch, with an eval split of NUM_TEST."""
  return small_run_config(
      num_epochs=1, eval_batch_size=32, log_every_steps=4, **{'data.synthetic_num_test': NUM_TEST}
  )


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """`(workdir, config, TrainResult)` of a one-epoch CutMix run on a small `shapes`."""
  workdir = str(tmp_path_factory.mktemp('run'))
  config = tiny_config()
  return workdir, config, train_loop.train_and_evaluate(config, workdir)


@pytest.fixture(scope='module')
def dataset(trained):
  """The dataset of the trained run."""
  return run_builder.build_run(trained[1]).dataset


@pytest.fixture(scope='module')
def evaluated(trained):
  """The report of `run.evaluate_run` on the trained workdir, from its saved config.json."""
  workdir, _, _ = trained
  config = workdir_lib.load_config(workdir, {})
  return run.evaluate_run(config, workdir, MEASURES, num_mixing_pictures=4)


# --- Class activation maps -----------------------------------------------------------------------
def test_cam_weights_features_by_the_head_column_of_the_class():
  features = jnp.arange(2 * 2 * 2 * 3, dtype=jnp.float32).reshape(2, 2, 2, 3) - 10.0
  kernel = jnp.array([[1.0, -1.0], [0.0, 2.0], [0.5, 0.0]])  # (c=3, K=2)
  classes = jnp.array([1, 0])
  maps = cam.class_activation_maps(features, kernel, classes, (2, 2))
  for i, c in enumerate([1, 0]):
    raw = np.maximum(np.asarray(features[i]) @ np.asarray(kernel[:, c]), 0.0)
    expected = (raw - raw.min()) / (raw.max() - raw.min())
    np.testing.assert_allclose(maps[i], expected, atol=1e-6)


def test_normalize_maps_range_and_constant_maps():
  maps = jnp.stack([jnp.full((4, 4), 3.0), jnp.linspace(-2.0, 6.0, 16).reshape(4, 4)])
  normalized = np.asarray(cam.normalize_maps(maps))
  np.testing.assert_array_equal(normalized[0], 0.0)  # constant: no peak to scale
  assert normalized[1].min() == 0.0 and normalized[1].max() == 1.0
  assert np.all(normalized[1][np.asarray(maps[1]) <= 0] == 0.0)  # ReLU before scaling


def test_cam_values_of_the_trained_model(trained, dataset):
  _, _, result = trained
  batch = next(iter(dataset.eval_batches()))
  model = eval_driver.EvalModel(result.state, dataset.eval_preprocess, dataset.mean, dataset.std)
  out = jax.jit(lambda b: cam.cam_values(model, b, None))(batch)
  maps = np.asarray(out['cam_predicted'])
  assert maps.shape == (len(batch['label']),) + dataset.image_shape[:2]
  assert maps.min() >= 0.0
  np.testing.assert_allclose(maps.max(axis=(1, 2)), 1.0, atol=1e-6)
  # The mean of the unnormalized map plus the bias is the logit (global average pooling).
  logits, features = model.logits_and_features(batch['image'])
  head = result.state.params['head']
  pooled = (
      np.einsum('nhwc,ck->nk', np.asarray(features), head['kernel']) / np.prod(features.shape[1:3])
      + head['bias']
  )
  np.testing.assert_allclose(pooled, logits, rtol=1e-4, atol=1e-4)
  np.testing.assert_array_equal(out['predicted'], np.argmax(logits, -1))


# --- Localization --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    'box_a, box_b, iou',
    [
        ((0, 4, 0, 4), (0, 4, 0, 4), 1.0),  # identical
        ((0, 4, 0, 4), (4, 8, 0, 4), 0.0),  # touching along an edge
        ((0, 4, 0, 4), (4, 8, 4, 8), 0.0),  # touching at a corner
        ((0, 4, 0, 4), (10, 12, 10, 12), 0.0),  # disjoint
        ((0, 8, 0, 8), (2, 4, 2, 6), 8 / 64),  # contained: area ratio
        ((0, 4, 0, 4), (2, 6, 0, 4), 8 / 24),  # half overlap
        ((0, 0, 0, 0), (0, 0, 0, 0), 0.0),  # empty boxes
    ],
)
def test_box_iou(box_a, box_b, iou):
  assert localization.box_iou(box_a, box_b) == pytest.approx(iou)
  assert localization.box_iou(box_b, box_a) == pytest.approx(iou)


def test_largest_region_is_four_connected():
  mask = np.zeros((8, 8), bool)
  mask[0:2, 0:3] = True  # 6 pixels
  mask[5:7, 5:7] = True  # 4 pixels
  np.testing.assert_array_equal(localization.largest_region_box(mask), [0, 2, 0, 3])
  diagonal = np.eye(8, dtype=bool)  # 8 separate pixels under 4-connectivity
  diagonal[0, 5:7] = True  # a 2-pixel row segment, the largest region
  np.testing.assert_array_equal(localization.largest_region_box(diagonal), [0, 1, 5, 7])
  np.testing.assert_array_equal(localization.largest_region_box(np.zeros((4, 4), bool)), 0)


def test_cam_boxes_follow_the_threshold():
  cam_map = np.zeros((1, 10, 10))
  cam_map[0, 1:4, 1:4] = 1.0  # strong 3x3 blob
  cam_map[0, 5:10, 2:9] = 0.5  # weaker 5x7 blob
  np.testing.assert_array_equal(localization.cam_boxes(cam_map, 0.3), [[5, 10, 2, 9]])
  np.testing.assert_array_equal(localization.cam_boxes(cam_map, 0.6), [[1, 4, 1, 4]])
  ious = localization.ious_per_threshold(cam_map, np.array([[1, 4, 1, 4]]), (0.3, 0.6))
  np.testing.assert_allclose(ious[:, 0], [0.0, 1.0])


def test_summarize_picks_the_best_threshold():
  summary = localization.summarize([1, 3, 2], [2, 2, 4], 4, (0.1, 0.2, 0.3))
  assert summary['best'] == {'threshold': 0.2, 'top1_loc': 75.0, 'gt_known_loc': 50.0}
  assert summary['best_gt_known'] == {'threshold': 0.3, 'gt_known_loc': 100.0}


# --- Occlusion -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    'fraction, side, top', [(0.0, 0, 16), (0.1, 3, 14), (0.25, 8, 12), (0.5, 16, 8), (1.0, 32, 0)]
)
def test_centred_square_area_and_position(fraction, side, top):
  square = occlusion.centred_square(fraction, 32, 32)
  assert square.sum() == side * side
  if side:
    np.testing.assert_array_equal(
        localization.largest_region_box(square), [top, top + side, top, top + side]
    )


def test_centre_and_boundary_occlusion_are_complements():
  spec = occlusion.perturbations(32, 32, (0.0, 0.5, 1.0), (0.0, 0.3))
  keep = dict(zip(spec.names, spec.keep))
  for fraction, hidden in ((0.0, 0), (0.5, 256), (1.0, 1024)):
    assert (1 - keep[('centre', fraction)]).sum() == hidden
    np.testing.assert_array_equal(keep[('centre', fraction)] + keep[('boundary', fraction)], 1.0)
  np.testing.assert_array_equal(spec.blend, [0, 0, 0, 0, 0, 0, 0.0, np.float32(0.3)])


def test_partner_indices_stay_among_real_examples():
  mask = jnp.array([True, True, True, False, False])
  np.testing.assert_array_equal(occlusion.partner_indices(mask), [1, 2, 0, 3, 4])


class _OneBatch:
  """A stand-in dataset whose eval split is one host batch for one device; the model's input is
  the uint8 image as float."""

  mean, std = (0.0,), (1.0,)
  eval_preprocess = staticmethod(lambda images: images.astype(jnp.float32))

  def __init__(self, batch):
    self.batch = {k: np.asarray(v) for k, v in batch.items()}
    self.image_shape = self.batch['image'].shape[1:]

  def eval_batches(self):
    return iter([self.batch])


def test_occlusion_curves_of_a_fixed_model():
  # The model predicts class 0 iff the mean input exceeds 0.5. Example 0 is all ones (label 0),
  # example 1 all zeros (label 1), row 2 is padding that the model would get wrong.
  fixed = lambda variables, x, train: jnp.stack(
      [x.mean((1, 2, 3)) - 0.5, 0.5 - x.mean((1, 2, 3))], axis=-1
  )
  state = train_state.TrainState.create(
      apply_fn=fixed, params={'w': jnp.zeros(1)}, tx=optax.identity(), batch_stats={}
  )
  one_device = devices.MeshPlacement(
      jax.make_mesh((1,), (devices.AXIS,), devices=jax.devices()[:1])
  )
  on_device = workdir_lib.Restored(0, one_device.put_state(state))
  images = np.stack([np.ones((10, 10, 1)), np.zeros((10, 10, 1)), np.ones((10, 10, 1))])
  dataset = _OneBatch(
      {
          'image': images.astype(np.uint8),
          'label': np.array([0, 1, 1]),
          'mask': np.array([True, True, False]),
      }
  )
  context = measure_lib.Context(
      None, '', '', dataset, eval_driver.Evaluator(dataset, one_device), on_device, on_device
  )
  measure = occlusion.Occlusion((0.0, 0.5, 0.8, 1.0), (0.0, 0.25, 0.75))
  curves = measure.measure(context)
  # Visible share of example 0: centre 1 - f^2 (1, .75, .36, 0), boundary f^2 (0, .25, .64, 1).
  assert curves['centre'] == [100.0, 100.0, 50.0, 50.0]
  assert curves['boundary'] == [50.0, 50.0, 100.0, 100.0]
  # Blends with the other example: means 1 - lam and lam, right while lam < 0.5.
  assert curves['mixup'] == [100.0, 100.0, 0.0]
  assert curves['mixup_lambda'] == [0.0, 0.25, 0.75]


def test_occlusion_curves_of_the_trained_model(evaluated):
  curves, clean = evaluated['occlusion'], 100.0 - evaluated['accuracy']['best']['top1_error']
  assert curves['hole_fraction'] == [0.0, 0.5, 1.0]
  # Nothing hidden and nothing blended: exactly the clean accuracy.
  for value in (curves['centre'][0], curves['boundary'][-1], curves['mixup'][0]):
    assert value == pytest.approx(clean, abs=1e-9)
  # Everything zeroed: every input is the same, so one class is predicted for all (9-10 of 96).
  for value in (curves['centre'][-1], curves['boundary'][0]):
    assert value in (pytest.approx(100 * 9 / NUM_TEST), pytest.approx(100 * 10 / NUM_TEST))


# --- Pictures, report, CLI -----------------------------------------------------------------------
def test_denormalize_inverts_normalization():
  images = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
  mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
  normalized = np.asarray(augment.normalize(images, mean, std))
  np.testing.assert_array_equal(augment.denormalize(normalized, mean, std), images)


def test_mixed_examples_of_each_method(dataset):
  examples = mixed_inputs.mixed_examples(
      dataset, mix_config.MixConfig(method='cutout', sections={'cutout': {'size': 8}}), 16
  )
  assert tuple(examples) == cm.METHODS
  clean, clean_targets = examples['none']
  np.testing.assert_array_equal(clean_targets.max(axis=1), 1.0)
  for method in ('cutmix', 'mixup', 'cutout'):
    images, targets = examples[method]
    assert images.shape == clean.shape and not np.array_equal(images, clean)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-6)
  # CutMix: one box for the batch; each target gives the partner exactly the box's area.
  changed = np.any(examples['cutmix'][0] != clean, axis=(0, 3))
  y1, y2, x1, x2 = localization.largest_region_box(changed)
  assert changed.sum() == (y2 - y1) * (x2 - x1) > 0
  ratio = changed.sum() / changed.size
  own = np.sum(examples['cutmix'][1] * clean_targets, axis=1)
  assert np.all(np.isclose(own, 1.0 - ratio) | np.isclose(own, 1.0))
  # Cutout: a zeroed square of at most 8 x 8 pixels per image, labels untouched.
  zeroed = np.all(examples['cutout'][0] == 0.0, axis=3).sum(axis=(1, 2))
  assert np.all((zeroed > 0) & (zeroed <= 64))
  np.testing.assert_array_equal(examples['cutout'][1], clean_targets)


def test_report_and_pictures(evaluated):
  assert {'run', 'workdir', 'config', 'accuracy', 'localization', 'occlusion', 'pictures'} <= set(
      evaluated
  )
  assert set(evaluated['accuracy']) == {'best', 'last'}
  assert evaluated['localization']['num_examples'] == NUM_TEST
  assert len(evaluated['localization']['top1_loc']) == len(localization.THRESHOLDS)
  on_disk = json.load(open(os.path.join(evaluated['workdir'], 'eval', 'report.json')))
  assert on_disk == evaluated
  assert set(evaluated['pictures']) == {
      'mixing', 'cam', 'curves', 'per_class', 'occlusion', 'fgsm', 'calibration', 'corruptions'
  }  # fmt: skip
  for path in evaluated['pictures'].values():
    with Image.open(path) as image:
      image.verify()
      assert image.format == 'PNG' and min(image.size) > 0


def test_training_curves_come_from_the_metrics_log(evaluated):
  curves = evaluated['curves']
  assert curves['label'] == 'cutmix' and curves['epoch'] == curves['eval_epoch'] == [1.0]
  # The logged eval of the one epoch is the last checkpoint's accuracy, measured again here.
  last = evaluated['accuracy']['last']['top1_error']
  assert curves['eval_top1_error'] == [pytest.approx(last, abs=1e-6)]
  assert curves['train_loss'][0] > 0.0


def test_curves_figure_groups_runs_by_label(tmp_path):
  run_a = {'epoch': [1, 2, 3], 'train_loss': [2.0, 1.0, 0.5], 'eval_epoch': [3],
           'eval_top1_error': [40.0], 'label': 'cutmix'}  # fmt: skip
  by_run = {'a': run_a, 'b': dict(run_a, label='cutmix'), 'c': dict(run_a, label='no mixing')}
  path = curves.Curves().figure(by_run, str(tmp_path / 'curves.png'), 10.0)
  with Image.open(path) as image:
    assert image.format == 'PNG' and image.size == (1000, 380)


def test_a_workdir_without_finished_epochs_has_no_curves(tmp_path):
  (tmp_path / 'metrics.jsonl').write_text('{"step": 3, "epoch": 0.5, "train_loss": 2.0}\n{"st')
  assert 'skipped' in curves.of_workdir(str(tmp_path), 'cutmix')


def test_robustness_measures_of_the_trained_model(evaluated):
  clean = 100.0 - evaluated['accuracy']['best']['top1_error']
  fgsm = evaluated['fgsm']['accuracy']
  assert fgsm[0] == pytest.approx(clean, abs=1e-9) and fgsm[1] <= clean  # epsilon 0: no attack
  calibration = evaluated['calibration']
  assert 0.0 <= calibration['ece'] <= 100.0 and calibration['nll'] > 0.0
  assert sum(calibration['bins']['count']) == NUM_TEST
  # Shapes against shapes is in-distribution: the max-softmax score cannot tell them apart.
  assert 30.0 < evaluated['ood']['shapes']['auroc'] < 70.0
  assert evaluated['ood']['uniform_noise']['count'] == NUM_TEST
  corruptions = evaluated['corruptions']
  assert set(corruptions['accuracy']) == {'gaussian_noise', 'pixelate'}
  assert all(
      len(v) == 5 and all(0 <= a <= 100 for a in v) for v in corruptions['accuracy'].values()
  )


def test_runs_of_one_base_name_get_distinct_labels():
  assert run.run_names(['x/A/run', 'x/B/run']) == ['A/run', 'B/run']
  assert run.run_names(['runs/default', 'runs/baseline']) == ['default', 'baseline']


def test_compare_runs_and_the_table(evaluated, tmp_path):
  other = dict(evaluated, run='baseline')
  comparison = run.compare_runs([evaluated, other], MEASURES, str(tmp_path))
  assert set(comparison['pictures']) == {
      'curves', 'per_class', 'occlusion', 'fgsm', 'calibration', 'corruptions'
  }  # fmt: skip
  for path in comparison['pictures'].values():
    with Image.open(path) as image:
      image.verify()
  table = report_lib.format_table([evaluated, other], MEASURES)
  assert f'centre {evaluated["run"]}' in table and 'centre baseline' in table
  for label in ('visible side (%)', 'ECE (%, 15 bins)', 'FGSM 8/255 acc (%)', 'OOD shapes',
                'pixelate acc (%)', 'corruptions mean (%)'):  # fmt: skip
    assert label in table, label
  quiet = dict(other, fgsm={'skipped': 'switched off'}, occlusion={'skipped': 'switched off'})
  table = report_lib.format_table([evaluated, quiet], MEASURES)
  assert 'under occlusion' not in table
  assert [line.split()[-1] for line in table.splitlines() if line.startswith('FGSM 8')] == ['off']


def test_cam_examples_take_the_classes_in_turn():
  kept = [{'label': np.array([0, 0, 0, 1]), 'index': np.arange(4)}, {'label': np.array([1, 2])}]
  kept[1]['index'] = np.arange(4, 6)
  examples = localization.cam_examples(kept, 5, num_classes=3)
  np.testing.assert_array_equal(examples['label'], [0, 1, 2, 0, 1])
  np.testing.assert_array_equal(examples['index'], [0, 3, 5, 1, 4])


def test_mixing_notes_name_self_and_same_class_pairs():
  clean = np.zeros((3, 2, 2, 1))
  mixed = clean.copy()
  mixed[1] += 1.0
  mixed[2] += 1.0
  targets = np.array([[1.0, 0.0], [0.0, 1.0], [0.4, 0.6]])
  assert mixed_inputs.pair_notes(clean, mixed, targets) == ['self-pair', 'same class', '']


def test_load_config_applies_overrides(trained):
  workdir, _, _ = trained
  config = workdir_lib.load_config(workdir, {'eval_batch_size': 16, 'mix.prob': 0.25})
  assert (config.eval_batch_size, config.mix.prob, config.model) == (16, 0.25, tiny_config().model)
  with pytest.raises(workdir_lib.WorkdirError, match='no field'):
    workdir_lib.load_config(workdir, {'no_such_key': 1})


def test_restore_best_and_last_of_different_steps(trained, dataset, tmp_path):
  workdir, config, result = trained
  run_dir = str(tmp_path / 'run')
  shutil.copytree(workdir, run_dir)
  step, bias = int(result.state.step), result.state.params['head']['bias']
  later = result.state.replace(
      step=step + 1, params=jax.tree.map(lambda p: p + 1.0, result.state.params)
  )
  checkpointer = Checkpointer(os.path.join(run_dir, 'checkpoints'), keep=2)
  checkpointer.save(step + 1, later, {'best_step': step, 'best_eval_top1_error': 0.0})
  checkpointer.close()
  restored = workdir_lib.restore_best_and_last(run_builder.build_run(config), run_dir)
  assert (restored['best'].step, restored['last'].step) == (step, step + 1)
  np.testing.assert_array_equal(restored['best'].state.params['head']['bias'], bias)
  np.testing.assert_array_equal(restored['last'].state.params['head']['bias'], bias + 1.0)


def _evaluate_cli(*args):
  return subprocess.run(
      [sys.executable, os.path.join(REPO, 'evaluate.py'), *args],
      cwd=REPO,
      capture_output=True,
      text=True,
      timeout=300,
      check=False,
  )


@pytest.mark.slow
def test_cli_gives_one_clear_line_without_checkpoint(trained, tmp_path):
  workdir, _, _ = trained
  with open(os.path.join(workdir, 'config.json'), encoding='utf-8') as f:
    (tmp_path / 'config.json').write_text(f.read())
  result = _evaluate_cli(f'--workdir={tmp_path}')
  assert result.returncode != 0
  assert result.stderr.strip() == (
      f'error: {tmp_path} has no checkpoint (nothing in {tmp_path}/checkpoints); train first: '
      f'python train.py --workdir={tmp_path}'
  )
  missing = _evaluate_cli(f'--workdir={tmp_path / "nothing"}')
  assert missing.returncode != 0 and 'has no config.json' in missing.stderr


@pytest.mark.slow
def test_cli_refuses_an_unknown_ood_set_in_one_line(trained):
  workdir, _, _ = trained
  result = _evaluate_cli(f'--workdir={workdir}', '--ood=uniform_noise,cifar100')
  assert result.returncode == 1
  assert result.stderr.strip().startswith('error: --ood=cifar100: unknown set; valid:')


@pytest.mark.slow
def test_cli_show_mixing_needs_no_checkpoint(tmp_path):
  result = _evaluate_cli(
      '--show-mixing',
      f'--workdir={tmp_path}',
      '--config.data.source=shapes',
      '--config.data.synthetic_num_train=128',
      '--config.data.synthetic_num_test=16',
      '--config.batch_size=64',
      '--config.eval_batch_size=16',
  )
  assert result.returncode == 0, result.stderr
  with Image.open(tmp_path / 'eval' / 'mixing.png') as image:
    image.verify()
