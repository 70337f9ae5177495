"""Tests of the robustness and confidence measures: FGSM, calibration, OOD detection, corruptions.

Each is checked against an answer known without the code under test: FGSM against the closed-form
gradient of a linear model, AUROC and ECE on hand-made scores, corruptions by their definitions.
"""

from conftest import small_run_config
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from cutmix_jax.data import augment
from cutmix_jax.data import dataset as dataset_lib
from cutmix_jax.data import layout as layout_lib
from cutmix_jax.data import memory
from cutmix_jax.evaluation import adversarial
from cutmix_jax.evaluation import calibration
from cutmix_jax.evaluation import confidence
from cutmix_jax.evaluation import corruptions
from cutmix_jax.evaluation import measure
from cutmix_jax.evaluation import ood
from cutmix_jax.evaluation import per_class
from cutmix_jax.evaluation import pixels
from cutmix_jax.evaluation import workdir
from cutmix_jax.training import eval_driver
from cutmix_jax.training import run_builder
from cutmix_jax.training import train_state

NUM_CLASSES, SIDE = 3, 6


class Linear(nn.Module):
  """logits = flatten(x) @ kernel + bias: its input gradient is known in closed form."""

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    return nn.Dense(NUM_CLASSES)(x.reshape((x.shape[0], -1)))


@pytest.fixture(scope='module')
def linear_run():
  """`(measure context, in-memory dataset of 40 eval images)` of a random linear model, whose
  state (on the devices) is `context.best.state`."""
  rng = np.random.default_rng(0)
  split = lambda n: memory.ArraySplit(
      rng.integers(0, 256, (n, SIDE, SIDE, 3), dtype=np.uint8),
      rng.integers(0, NUM_CLASSES, n).astype(np.int32),
  )
  layout = layout_lib.Layout.from_jax(batch_size=16, eval_batch_size=16)
  dataset = dataset_lib.from_arrays(split(32), split(40), ['a', 'b', 'c'], layout, seed=0)
  model = Linear()
  params = model.init(jax.random.key(1), jnp.zeros((1, SIDE, SIDE, 3)))['params']
  params = jax.tree.map(lambda p: p + 0.05 * jax.random.normal(jax.random.key(2), p.shape), params)
  state = train_state.TrainState.create(
      apply_fn=model.apply, params=params, tx=optax.sgd(0.0), batch_stats={}
  )
  evaluator = eval_driver.Evaluator(dataset)
  best = workdir.Restored(0, evaluator.placement.put_state(state))
  config = ml_collections.ConfigDict({'eval_batch_size': 16})
  return measure.Context(config, '', '', dataset, evaluator, best, best), dataset


def _eval_split(dataset):
  """All eval images as `[0, 1]` float64 `(N, H, W, C)` and labels `(N,)`."""
  images, labels = [], []
  for batch in dataset.eval_batches():
    mask = np.asarray(batch['mask']).reshape(-1)
    images.append(np.asarray(batch['image']).reshape((-1, SIDE, SIDE, 3))[mask])
    labels.append(np.asarray(batch['label']).reshape(-1)[mask])
  return np.concatenate(images).astype(np.float64) / 255.0, np.concatenate(labels)


def _closed_form_logits(context, dataset, unit):
  params = context.evaluator.placement.first(context.best.state.params)
  kernel = np.asarray(params['Dense_0']['kernel'], np.float64)
  bias = np.asarray(params['Dense_0']['bias'], np.float64)
  mean, std = np.asarray(dataset.mean), np.asarray(dataset.std)
  return ((unit - mean) / std).reshape(len(unit), -1) @ kernel + bias, kernel, std


def test_fgsm_matches_the_closed_form_of_a_linear_model(linear_run):
  context, dataset = linear_run
  unit, labels = _eval_split(dataset)
  logits, kernel, std = _closed_form_logits(context, dataset, unit)
  probs = np.exp(logits - logits.max(1, keepdims=True))
  probs /= probs.sum(1, keepdims=True)
  # d CE / d x = ((softmax - onehot) @ kernel.T) / std, per pixel and channel.
  gradient = ((probs - np.eye(NUM_CLASSES)[labels]) @ kernel.T).reshape(unit.shape) / std
  expected = []
  for epsilon in adversarial.EPSILONS:
    adversarial_unit = np.clip(unit + epsilon * np.sign(gradient), 0.0, 1.0)
    adv_logits, _, _ = _closed_form_logits(context, dataset, adversarial_unit)
    expected.append(100.0 * np.mean(adv_logits.argmax(1) == labels))
  measured = adversarial.Fgsm().measure(context)
  assert measured['epsilons_255'] == pytest.approx([1, 2, 4, 8])
  np.testing.assert_allclose(measured['accuracy'], expected, atol=1e-9)
  assert measured['accuracy'][-1] < 100.0 * np.mean(logits.argmax(1) == labels)


def test_fgsm_images_step_by_epsilon_and_stay_in_range():
  unit = jnp.asarray(np.random.default_rng(1).uniform(size=(4, 5, 5, 3)), jnp.float32)
  weights = jnp.asarray(np.random.default_rng(2).normal(size=(75, 2)), jnp.float32)
  logits_fn = lambda x: x.reshape(4, -1) @ weights
  adversarial_images = adversarial.fgsm_images(logits_fn, unit, jnp.array([0, 1, 0, 1]), 0.1)
  assert float(jnp.min(adversarial_images)) >= 0.0 and float(jnp.max(adversarial_images)) <= 1.0
  moved = jnp.abs(adversarial_images - unit)
  clipped = (adversarial_images == 0.0) | (adversarial_images == 1.0)
  assert bool(jnp.all(jnp.isclose(moved, 0.1, atol=1e-6) | clipped))


def test_confidences_of_the_eval_split(linear_run):
  context, dataset = linear_run
  unit, labels = _eval_split(dataset)
  logits, _, _ = _closed_form_logits(context, dataset, unit)
  log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
  scores = confidence.of_eval_split(context.evaluator, context.best.state)
  np.testing.assert_array_equal(scores['label'], labels)
  np.testing.assert_array_equal(scores['predicted'], logits.argmax(1))
  np.testing.assert_allclose(scores['confidence'], np.exp(log_probs.max(1)), rtol=1e-5)
  np.testing.assert_allclose(
      scores['true_log_prob'], log_probs[np.arange(len(labels)), labels], rtol=1e-4, atol=1e-5
  )


def test_per_class_error_counts_each_class(linear_run):
  context, dataset = linear_run
  unit, labels = _eval_split(dataset)
  logits, _, _ = _closed_form_logits(context, dataset, unit)
  measured = per_class.PerClass().measure(context)
  assert measured['class_names'] == ['a', 'b', 'c']
  assert measured['count'] == np.bincount(labels, minlength=NUM_CLASSES).tolist()
  right = logits.argmax(1) == labels
  expected = [100.0 * (1.0 - right[labels == k].mean()) for k in range(NUM_CLASSES)]
  np.testing.assert_allclose(measured['top1_error'], expected, atol=1e-9)
  report = {'run': 'linear', 'per_class': measured}
  lines = per_class.PerClass().table_lines([report, {'run': 'off', 'per_class': {'skipped': 1}}])
  worst = int(np.argmax(expected))
  assert lines[0].split()[-3:] == [measured['class_names'][worst], f'{max(expected):.1f}', 'off']


# --- Calibration --------------------------------------------------------------------------------
def test_ece_of_a_calibrated_predictor_is_near_zero():
  rng = np.random.default_rng(0)
  confidences = rng.uniform(1 / 3, 1.0, 400_000)
  correct = rng.uniform(size=confidences.shape) < confidences
  assert calibration.expected_calibration_error(confidences, correct) < 0.005


def test_ece_of_a_known_miscalibration():
  # Always 90 % sure, right 6 times in 10: ECE = |0.6 - 0.9| = 0.3.
  confidences = np.full(1000, 0.9)
  correct = np.arange(1000) % 10 < 6
  assert calibration.expected_calibration_error(confidences, correct) == pytest.approx(0.3)
  # Two bins: (0.2 sure, right 1/2) and (1.0 sure, right 1/2), equal sizes: (0.3 + 0.5) / 2.
  confidences = np.array([0.2, 0.2, 1.0, 1.0])
  correct = np.array([True, False, True, False])
  assert calibration.expected_calibration_error(confidences, correct) == pytest.approx(0.4)
  summary = calibration.summarize(confidences, correct, np.log([0.2, 0.4, 1.0, 0.5]))
  assert summary['ece'] == pytest.approx(40.0)
  assert summary['nll'] == pytest.approx(-np.mean(np.log([0.2, 0.4, 1.0, 0.5])))
  bins = summary['bins']
  assert sum(bins['count']) == 4 and bins['count'][2] == 2 and bins['count'][-1] == 2
  assert bins['accuracy'][2] == pytest.approx(0.5) and bins['confidence'][-1] == pytest.approx(1.0)


# --- Out-of-distribution detection --------------------------------------------------------------
@pytest.mark.parametrize(
    'in_scores, out_scores, expected',
    [
        ([3, 4], [1, 2], 1.0),
        ([1, 2], [3, 4], 0.0),
        ([1, 3], [2], 0.5),
        ([1], [1], 0.5),  # a tie counts half
        ([0.9, 0.8, 0.4], [0.5, 0.3], 5 / 6),
        ([0.5, 0.5, 0.7], [0.5, 0.1], 5 / 6),
    ],
)
def test_auroc_of_hand_counted_cases(in_scores, out_scores, expected):
  # The last case by pairs: (0.5, 0.5) tie 0.5, (0.5, 0.1) 1, twice; (0.7, *) 1 + 1 -> 5/6.
  assert ood.auroc(in_scores, out_scores) == pytest.approx(expected)


def test_fpr_at_95_tpr():
  in_scores = np.arange(100) / 100.0  # the threshold keeping 95 of them is 0.05
  assert ood.fpr_at_tpr(in_scores, [0.0, 0.04, 0.05, 0.5]) == pytest.approx(0.5)
  summary = ood.summarize(in_scores, [0.0, 0.04, 0.05, 0.5])
  assert summary['fpr_at_95_tpr'] == pytest.approx(50.0) and summary['count'] == 4


def test_ood_noise_sets_and_names():
  for name in ood.NOISE_SETS:
    images = ood.noise_images(name, jax.random.key(0), (8, 4, 4, 3))
    assert images.shape == (8, 4, 4, 3)
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0 and float(images.std()) > 0.1
  ood.check_sets(['gaussian_noise', 'shapes', 'folder:/data', 'tfds:cifar100'])
  with pytest.raises(ood.OodSetError, match=r'--ood=cifar100: unknown set; valid: gaussian_noise'):
    ood.check_sets(['cifar100'])


def test_ood_of_noise_against_a_model(linear_run):
  context, dataset = linear_run
  measured = ood.OodDetection(sets=('uniform_noise',)).measure(context)
  assert measured['uniform_noise']['count'] == dataset.num_eval
  assert 0.0 <= measured['uniform_noise']['auroc'] <= 100.0


# --- Corruptions -------------------------------------------------------------------------------
@pytest.mark.parametrize('name', corruptions.CORRUPTIONS)
def test_each_corruption_is_deterministic_and_grows_with_severity(name):
  unit = jnp.asarray(np.random.default_rng(0).uniform(0.2, 0.8, (2, 16, 16, 3)), jnp.float32)
  key = jax.random.key(3)
  assert corruptions.corrupt(name, 0, unit, key) is unit  # severity 0: the identity
  distances = []
  for severity in corruptions.SEVERITIES:
    once = corruptions.corrupt(name, severity, unit, key)
    np.testing.assert_array_equal(once, corruptions.corrupt(name, severity, unit, key))
    assert once.shape == unit.shape and 0.0 <= float(once.min()) and float(once.max()) <= 1.0
    distances.append(float(jnp.mean(jnp.abs(once - unit))))
  assert distances[0] > 0.0 and distances[-1] > distances[0]


def test_corruption_definitions():
  unit = jnp.asarray(np.random.default_rng(1).uniform(0.2, 0.8, (1, 8, 8, 3)), jnp.float32)
  key = jax.random.key(0)
  contrast = corruptions.corrupt('contrast', 5, unit, key)
  mean = jnp.mean(unit)
  np.testing.assert_allclose(contrast, (unit - mean) * 0.15 + mean, rtol=1e-5)
  np.testing.assert_allclose(corruptions.corrupt('brightness', 2, unit, key), unit + 0.1)
  constant = jnp.full((1, 8, 8, 3), 0.5)
  np.testing.assert_allclose(
      corruptions.corrupt('gaussian_blur', 5, constant, key), constant, rtol=1e-6
  )
  pixelated = corruptions.corrupt('pixelate', 5, unit, key)  # 8 px -> 5 px -> 8 px
  assert len(np.unique(np.asarray(pixelated)[0, :, 0, 0])) <= 5
  with pytest.raises(ValueError, match='unknown corruption .*valid: gaussian_noise'):
    corruptions.corrupt('fog', 1, unit, key)


def test_corruptions_measure_is_deterministic(linear_run):
  context, _ = linear_run
  measure_two = corruptions.Corruptions(names=('shot_noise', 'contrast'))
  first = measure_two.measure(context)
  assert first == measure_two.measure(context)
  assert set(first['accuracy']) == {'shot_noise', 'contrast'}
  assert first['mean'] == pytest.approx(np.mean(list(first['mean_by_corruption'].values())))


def test_unit_pixels_round_trip():
  images = np.random.default_rng(0).integers(0, 256, (2, 3, 3, 3), dtype=np.uint8)
  mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
  unit = pixels.to_unit(jnp.asarray(images))
  np.testing.assert_allclose(unit, images / 255.0, rtol=1e-6)
  normalized = augment.normalize(unit, mean, std, pixel_max=1.0)
  np.testing.assert_allclose(normalized, (images / 255.0 - mean) / np.array(std), rtol=1e-5)


def _drawn_figure(monkeypatch, draw):
  """The matplotlib figure that `draw(path)` saves (saved for real, so laid out and drawn)."""
  from cutmix_jax.evaluation import pictures

  saved, real_save = [], pictures.save
  monkeypatch.setattr(pictures, 'save', lambda fig, path: saved.append(fig) or real_save(fig, path))
  draw()
  return saved[0]


def test_a_one_epoch_run_shows_its_train_loss_point(tmp_path, monkeypatch):
  from cutmix_jax.evaluation import curves

  one_epoch = {'label': 'cutmix', 'epoch': [1], 'train_loss': [2.1], 'eval_epoch': [1],
               'eval_top1_error': [80.0]}  # fmt: skip
  path = str(tmp_path / 'curves.png')
  figure = _drawn_figure(monkeypatch, lambda: curves.Curves().figure({'a': one_epoch}, path, 10))
  loss_ax = figure.axes[1]
  assert [line.get_marker() for line in loss_ax.get_lines()] == ['o']


def test_the_per_class_legend_covers_no_bar(tmp_path, monkeypatch):
  summary = {'class_names': [f'class {i}' for i in range(10)], 'top1_error': [95.0] * 10}
  by_run = {'cutmix': summary, 'baseline': summary, 'mixup': summary}
  path = str(tmp_path / 'per_class.png')
  figure = _drawn_figure(monkeypatch, lambda: per_class.PerClass().figure(by_run, path, 10))
  (ax,) = figure.axes
  legend = ax.get_legend().get_window_extent()
  assert not any(legend.overlaps(bar.get_window_extent()) for bar in ax.patches)


def _count_examples(model, batch, key):
  del model, key
  return {'examples': batch['mask'].astype(jnp.int32)}


def test_a_pass_shows_a_bar_of_its_batches_when_asked(linear_run, capsys):
  context, dataset = linear_run
  state = context.best.state
  quiet = eval_driver.Evaluator(dataset, context.evaluator.placement)
  assert quiet.sums(_count_examples, state)[0]['examples'] == 40
  assert 'batch' not in capsys.readouterr().err
  shown = eval_driver.Evaluator(dataset, quiet.placement, progress_bar=True, num_eval_batches=3)
  assert shown.sums(_count_examples, state)[0]['examples'] == 40  # 40 images, batches of 16
  assert '| 0/3 [' in capsys.readouterr().err  # the bar, with its total of 3 batches


def test_a_run_tells_its_evaluator_the_bar_and_the_batch_count():
  run = run_builder.build_run(small_run_config(progress_bar=True))
  assert run.evaluator.progress_bar
  assert run.evaluator.num_eval_batches == len(list(run.dataset.eval_batches())) == 3  # 100 / 48
