"""DeiT's training pieces as settings of any recipe: random erasing, repeated augmentation, the
bicubic resize, the binary cross-entropy of DeiT III, and their config checks."""

import io

from conftest import small_run_config
import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest

from cutmix_jax import data
from cutmix_jax.data import host_preprocess
from cutmix_jax.data import layout as layout_lib
from cutmix_jax.data import random_erasing
from cutmix_jax.data import train_augment
from cutmix_jax.training import losses
from cutmix_jax.training import run_config


# ---------------------------------------------------------------------------------------------
# Random erasing
# ---------------------------------------------------------------------------------------------
def _erased(prob, shape=(2000, 32, 32, 3), seed=0):
  inputs = jnp.full(shape, 100.0, jnp.float32)  # no normal draw comes near 100
  out = np.asarray(
      jax.jit(random_erasing.random_erasing, static_argnums=2)(jax.random.key(seed), inputs, prob)
  )
  return out, out != 100.0


def test_random_erasing_replaces_one_rectangle_of_noise_per_erased_image():
  out, changed = _erased(0.25)
  pixels = changed.any(-1)
  assert (changed.all(-1) == pixels).all()  # every channel of an erased pixel
  erased = pixels.any((1, 2))
  assert 0.22 < erased.mean() < 0.28  # timm's probability 0.25
  rows, cols = pixels.any(2), pixels.any(1)
  heights, widths = rows.sum(1), cols.sum(1)
  assert (pixels.sum((1, 2)) == heights * widths).all()  # one full rectangle
  h, w = heights[erased], widths[erased]
  assert (h < 32).all() and (w < 32).all()  # timm's `h < H and w < W`
  area = h * w / 1024
  assert area.min() >= 0.015 and area.max() <= 0.36  # [0.02, 1/3] up to the rounding of sides
  assert np.median(area) == pytest.approx(0.177, abs=0.03)  # median of U(0.02, 1/3)
  ratio = h / w
  assert ratio.min() > 0.25 and ratio.max() < 4.0  # [0.3, 3.3] up to rounding
  noise = out[changed]
  assert abs(noise.mean()) < 0.01 and abs(noise.std() - 1) < 0.01  # standard normal


def test_random_erasing_is_off_at_zero_and_draws_from_the_key():
  out, changed = _erased(0.0, (8, 16, 16, 3))
  assert not changed.any()
  first, _ = _erased(1.0, (8, 16, 16, 3), seed=1)
  again, _ = _erased(1.0, (8, 16, 16, 3), seed=1)
  other, _ = _erased(1.0, (8, 16, 16, 3), seed=2)
  np.testing.assert_array_equal(first, again)
  assert not np.array_equal(first, other)


@pytest.mark.slow  # 2,000 images: 7 s
def test_random_erasing_leaves_an_image_whole_when_no_draw_fits():
  _, changed = _erased(1.0, (2000, 3, 3, 1))  # at 3 x 3 some draws all reach a side
  erased = changed.any((1, 2, 3))
  assert 0.5 < erased.mean() < 0.95  # probability 1, yet some are left whole
  assert (changed.sum((1, 2, 3)) <= 4).all()  # at most 2 x 2 of a 3 x 3 image


# ---------------------------------------------------------------------------------------------
# Repeated augmentation
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('process_count', [1, 2])
def test_repeated_augmentation_puts_the_copies_on_different_devices(process_count):
  num, batch, devices, repeats = 100, 24, 8, 3
  per_process = devices // process_count
  orders = [
      layout_lib.train_indices(
          layout_lib.Layout(batch, 8, p, process_count, per_process, devices, repeats), 5, 2, num
      )
      for p in range(process_count)
  ]
  steps = np.concatenate(orders, axis=1)
  assert steps.shape == (num // batch, batch)  # the epoch keeps its length
  _, counts = np.unique(steps, return_counts=True)
  assert counts.max() == repeats and len(counts) <= -(-num // repeats)
  device_of_row = np.repeat(np.arange(devices), batch // devices)
  for row in steps:
    for example in np.unique(row):
      places = device_of_row[row == example]
      assert len(np.unique(places)) == len(places)  # never twice on one device
  plain = layout_lib.train_indices(layout_lib.Layout(batch, 8, 0, 1, 8, 8), 5, 2, num)
  assert len(np.unique(plain)) == plain.size  # repeats=1: the permutation, as before
  np.testing.assert_array_equal(
      plain.ravel(), np.random.default_rng([5, 2]).permutation(num)[: plain.size]
  )


def test_repeated_augmentation_augments_each_copy_anew():
  ds = data.load_dataset(
      data.DataConfig(source='shapes', synthetic_num_train=64, repeated_augmentation=4),
      batch_size=16,
      eval_batch_size=16,
      seed=0,
  )
  batch = next(ds.train_batches())
  labels = batch['label'].reshape(-1)
  images = jax.jit(ds.train_preprocess)(jax.random.key(0), batch['image'].reshape(16, 32, 32, 3))
  flat = np.asarray(images).reshape(16, -1)
  assert len(np.unique(flat, axis=0)) == 16  # the 4 copies of each of 4 images all differ
  assert len(np.unique(labels)) <= 4


def test_repeated_augmentation_is_a_positive_count():
  with pytest.raises(ValueError, match='repeated_augmentation must be a positive integer'):
    data.DataConfig(repeated_augmentation=0)


# ---------------------------------------------------------------------------------------------
# Bicubic resize
# ---------------------------------------------------------------------------------------------
def test_bicubic_resize_of_streamed_images_is_pils():
  pixels = np.random.default_rng(0).integers(0, 256, (100, 120, 3), np.uint8)
  encoded = io.BytesIO()
  Image.fromarray(pixels).save(encoded, 'PNG')
  images = {
      name: host_preprocess.eval_image('x.png', 32, encoded.getvalue(), name)
      for name in train_augment.INTERPOLATIONS
  }
  y, x, side, _ = host_preprocess.centre_window(100, 120)
  crop = Image.fromarray(pixels[y : y + side, x : x + side])
  for name, resample in host_preprocess.RESAMPLING.items():
    np.testing.assert_array_equal(images[name], np.asarray(crop.resize((32, 32), resample)))
  assert not np.array_equal(images['bilinear'], images['bicubic'])


# ---------------------------------------------------------------------------------------------
# Binary cross-entropy (DeiT III)
# ---------------------------------------------------------------------------------------------
def _closed_form_bce(logits, targets):
  p = 1 / (1 + np.exp(-logits.astype(np.float64)))
  return -(targets * np.log(p) + (1 - targets) * np.log(1 - p)).mean(-1)


def test_binary_cross_entropy_against_its_closed_form():
  rng = np.random.default_rng(0)
  logits = rng.normal(0, 3, (6, 5)).astype(np.float32)
  targets = np.zeros((6, 5), np.float32)
  targets[np.arange(6), rng.integers(0, 5, 6)] = 0.7
  targets[np.arange(6), rng.integers(0, 5, 6)] += 0.3  # a mixed pair (or one class at 1)
  soft = losses.binary_cross_entropy(logits, targets)
  np.testing.assert_allclose(soft, _closed_form_bce(logits, targets), rtol=1e-5)
  binarized = losses.binary_cross_entropy(logits, targets, 0.0)  # DeiT III: targets > 0
  np.testing.assert_allclose(binarized, _closed_form_bce(logits, targets > 0), rtol=1e-5)
  above = losses.binary_cross_entropy(logits, targets, 0.5)  # timm's threshold
  np.testing.assert_allclose(above, _closed_form_bce(logits, targets > 0.5), rtol=1e-5)
  assert not np.allclose(binarized, soft)


@pytest.mark.parametrize(
    'fields, message',
    [
        ({'loss': 'focal'}, r"unknown loss 'focal'; valid: 'softmax_cross_entropy'"),
        (
            {'loss': 'binary_cross_entropy', 'bce_target_threshold': 1.5},
            r'bce_target_threshold must be in \[0, 1\), or -1.0',
        ),
        (
            {'loss': 'binary_cross_entropy', 'bce_target_threshold': 0.0, 'label_smoothing': 0.1},
            'is below label_smoothing=0.1',
        ),
    ],
)
def test_loss_settings_are_checked(fields, message):
  with pytest.raises(run_config.checks.ConfigError, match=message):
    run_config.check_config(small_run_config(**fields))


@pytest.mark.parametrize(
    'fields, message',
    [
        ({'interpolation': 'lanczos'}, r"unknown interpolation 'lanczos'; valid: 'bilinear'"),
        ({'random_erasing': 1.5}, r'random_erasing must be a probability in \[0, 1\]'),
        (
            {'rand_augment': 'rand-m9', 'three_augment': True},
            'rand_augment and three_augment are alternatives',
        ),
    ],
)
def test_augment_settings_are_checked(fields, message):
  with pytest.raises(ValueError, match=message):
    data.DataConfig(**fields)
