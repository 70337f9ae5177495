"""The research API: the mask primitive, the CutMix family (FMix, ResizeMix, SaliencyMix),
detection boxes and keypoints under a paste, and plug-in mixing methods."""

import json
import os
import subprocess
import sys

from conftest import REPO
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cutmix_jax as cm
from cutmix_jax.data import cifar10_mini
from cutmix_jax.ops import detection
from cutmix_jax.ops import fourier_mix as fmix
from cutmix_jax.ops import resize_mix as resizemix
from cutmix_jax.ops import saliency_mix as saliencymix

N, H, W = 8, 12, 10


def _index_images(batch=N, dtype=jnp.float32):
  """Image n is filled with the value n: every output pixel says where it came from."""
  return jnp.broadcast_to(jnp.arange(batch, dtype=dtype)[:, None, None, None], (batch, H, W, 3))


# --- The primitive --------------------------------------------------------------------------
def test_boolean_mask_takes_partner_pixels_and_weighs_labels_by_its_exact_mean():
  images, labels = _index_images(), cm.one_hot(jnp.arange(N), N)
  pairing = cm.draw_partners(jax.random.key(0), images)
  partner = np.asarray(pairing.permutation)
  mask = jnp.zeros((H, W), bool).at[2:5, 1:8].set(True)  # 21 of 120 pixels
  mixed, mixed_labels = cm.mix_by_mask(images, labels, mask, pairing)
  source = np.asarray(mixed)[..., 0]
  np.testing.assert_array_equal(
      source[:, 2:5, 1:8], np.broadcast_to(partner[:, None, None], (N, 3, 7))
  )
  outside = np.asarray(~mask)
  np.testing.assert_array_equal(source[:, outside], np.broadcast_to(np.arange(N)[:, None], (N, 99)))
  moved = partner != np.arange(N)
  np.testing.assert_array_equal(
      np.asarray(mixed_labels)[moved, partner[moved]], np.float32(21 / 120)
  )
  np.testing.assert_allclose(np.asarray(mixed_labels).sum(axis=1), 1.0, rtol=1e-6)


def test_per_image_float_mask_blends_and_keeps_the_dtype():
  images = _index_images(dtype=jnp.uint8)
  labels = cm.one_hot(jnp.arange(N), N)
  pairing = cm.draw_partners(jax.random.key(1), images)
  partner = np.asarray(pairing.permutation)
  weights = jnp.linspace(0.0, 1.0, N)
  mask = jnp.broadcast_to(weights[:, None, None], (N, H, W))
  mixed, mixed_labels = cm.mix_by_mask(images, labels, mask, pairing)
  assert mixed.dtype == jnp.uint8
  expected = np.rint((1 - np.asarray(weights)) * np.arange(N) + np.asarray(weights) * partner)
  np.testing.assert_array_equal(np.asarray(mixed)[:, 0, 0, 0], expected)
  moved = partner != np.arange(N)
  np.testing.assert_allclose(
      np.asarray(mixed_labels)[moved, partner[moved]], np.asarray(weights)[moved], rtol=1e-5
  )


def test_dense_targets_follow_the_same_pixels():
  images = _index_images()
  seg = jnp.broadcast_to(jnp.arange(N)[:, None, None], (N, H, W))  # class id = source image
  pairing = cm.draw_partners(jax.random.key(2), images)
  mask = jax.random.bernoulli(jax.random.key(3), 0.4, (N, H, W))
  mixed, _, mixed_seg = cm.mix_by_mask(images, jnp.arange(N), mask, pairing, seg, num_classes=N)
  np.testing.assert_array_equal(np.asarray(mixed_seg), np.asarray(mixed)[..., 0].astype(int))
  with pytest.raises(ValueError, match='cannot be blended'):
    cm.mix_by_mask(images, jnp.arange(N), mask * 0.5, pairing, seg, num_classes=N)


@pytest.mark.parametrize(
    'mask_shape, message',
    [((H, W + 1), r'mask must be \(H, W\) = \(12, 10\) or \(N, H, W\) = \(8, 12, 10\)'),
     ((N, 1, H, W), r'got \(8, 1, 12, 10\)')],
)  # fmt: skip
def test_a_mask_of_the_wrong_shape_names_both(mask_shape, message):
  images = _index_images()
  pairing = cm.draw_partners(jax.random.key(0), images)
  with pytest.raises(ValueError, match=message):
    cm.mix_by_mask(images, jnp.arange(N), jnp.zeros(mask_shape, bool), pairing, num_classes=N)


def test_draw_partners_under_pmap_equals_the_single_device_draw():
  devices = jax.local_device_count()
  images = jnp.arange(devices * 2.0)[:, None, None, None] * jnp.ones((1, 4, 4, 1))
  labels = cm.one_hot(jnp.arange(devices * 2), devices * 2)
  mask = jnp.zeros((4, 4), bool).at[:2].set(True)
  mix = lambda k, x, y, axis: cm.mix_by_mask(x, y, mask, cm.draw_partners(k, x, axis_name=axis))
  single = mix(jax.random.key(4), images, labels, None)
  split = lambda x: x.reshape((devices, -1) + x.shape[1:])
  pmapped = jax.pmap(lambda k, x, y: mix(k, x, y, 'i'), axis_name='i', in_axes=(None, 0, 0))
  out = pmapped(jax.random.key(4), split(images), split(labels))
  for got, want in zip(out, single):
    np.testing.assert_array_equal(np.asarray(got).reshape(want.shape), want)


def test_cutmix_equals_the_primitive_with_its_box():
  images, labels = _index_images(), cm.one_hot(jnp.arange(N), N)
  key = jax.random.key(7)
  draw = cm.draw_cutmix(key, images)
  by_primitive = cm.mix_by_mask(images, labels, cm.box_mask(draw.box(H, W), H, W), draw.pairing)
  for a, b in zip(cm.cutmix(key, images, labels), by_primitive):
    np.testing.assert_array_equal(a, b)


# --- FMix -----------------------------------------------------------------------------------
@pytest.mark.parametrize('lam', [0.0, 0.3, 0.77, 1.0])
def test_fmix_mask_sets_the_top_share_of_pixels(lam):
  key = jax.random.key(0)
  mask = np.asarray(fmix.fmix_mask(key, lam, 32, 32, spectrum='complex'))
  assert mask.sum() == round((1 - lam) * 1024)
  grey = np.asarray(fmix.low_frequency_image(key, 32, 32, spectrum='complex'))
  if 0 < mask.sum() < mask.size:
    assert grey[mask].min() >= grey[~mask].max()  # the partner: exactly the highest pixels
  # The official code: the image keeps the ceil or floor of lam * H * W highest pixels.
  mask = np.asarray(fmix.fmix_mask(key, lam, 32, 32))
  assert 1024 - mask.sum() in (np.ceil(lam * 1024), np.floor(lam * 1024))
  grey = np.asarray(fmix.low_frequency_image(jax.random.split(key)[0], 32, 32))
  if 0 < mask.sum() < mask.size:
    assert grey[~mask].min() >= grey[mask].max()


def test_fmix_masks_are_low_frequency_blobs():
  def boundary_share(mask):
    changes = (mask[1:] != mask[:-1]).sum() + (mask[:, 1:] != mask[:, :-1]).sum()
    return changes / (2 * mask.size)

  keys = jax.random.split(jax.random.key(1), 20)
  share = lambda spectrum, decay: np.mean([
      boundary_share(np.asarray(fmix.fmix_mask(k, 0.5, 32, 32, decay, spectrum))) for k in keys
  ])  # fmt: skip
  assert share('official', 3.0) < 0.15  # delta 3: a few large pieces
  assert share('complex', 3.0) < 0.15 < 0.3 < share('complex', 0.0)  # delta 0: white noise


def test_fmix_label_weight_is_the_mask_mean():
  images, labels = _index_images(), cm.one_hot(jnp.arange(N), N)
  mixed, mixed_labels = cm.fmix(jax.random.key(5), images, labels)
  source = np.asarray(mixed)[..., 0].astype(int)
  taken = (source != np.arange(N)[:, None, None]).mean(axis=(1, 2))
  moved = taken > 0
  np.testing.assert_allclose(1.0 - np.asarray(mixed_labels)[np.arange(N), np.arange(N)][moved],
                             taken[moved], rtol=1e-6)  # fmt: skip
  assert len({round(t, 6) for t in taken[moved]}) == 1  # one mask for the batch


def _official_fmix():
  path = os.path.join(os.path.dirname(__file__), 'fixtures', 'fmix_official.json')
  return json.load(open(path, encoding='utf-8'))


@pytest.mark.parametrize('case', range(3))
def test_fmix_official_spectrum_and_mask_equal_the_official_codes_numbers(case):
  # Numbers of the official code (ecs-vlc/FMix), from scripts/fmix_official_fixture.py.
  fixture = _official_fmix()
  official = fixture['cases'][case]
  height, width = official['shape']
  parameters = jnp.asarray(official['parameters'], jnp.float32)
  image = np.asarray(fmix.official_spectrum_image(parameters, height, width, 3.0))
  image = (image - image.min()) / (image - image.min()).max()  # the official code's scaling
  np.testing.assert_allclose(image, np.asarray(official['image']), atol=2e-6)
  ranks = jnp.argsort(jnp.argsort(-jnp.asarray(image).reshape(-1)))
  lam, size = fixture['lam'], height * width
  for name, mask in official['masks'].items():
    max_soft, coin = name.split('-')
    num = int(np.ceil(lam * size) if coin == 'ceil' else np.floor(lam * size))
    share = fmix.official_partner_share(ranks, num, lam, size, float(max_soft))
    np.testing.assert_allclose(1.0 - np.asarray(share, np.float32).reshape(height, width),
                               np.asarray(mask), atol=1e-6, err_msg=name)  # fmt: skip


def test_fmix_official_is_the_default_and_complex_an_option():
  images, labels = _index_images(), cm.one_hot(jnp.arange(N), N)
  key = jax.random.key(3)
  default = cm.draw_fmix(key, images).mask
  np.testing.assert_array_equal(default, cm.draw_fmix(key, images, spectrum='official').mask)
  assert not np.array_equal(default, cm.draw_fmix(key, images, spectrum='complex').mask)
  soft = cm.draw_fmix(key, images, max_soft=0.2).mask
  assert soft.dtype == jnp.float32 and 0 < np.mean((0 < soft) & (soft < 1))
  with pytest.raises(ValueError, match="unknown FMix spectrum 'real'; valid: official, complex"):
    cm.fmix(key, images, labels, spectrum='real')
  lams = jax.jit(jax.vmap(lambda k: cm.draw_fmix(k, images, reformulate=True).lam))(
      jax.random.split(key, 1000)
  )
  assert abs(float(lams.mean()) - 2 / 3) < 0.03  # Beta(2, 1): mean 2/3, std 0.24 (se 0.0075)


# --- ResizeMix ------------------------------------------------------------------------------
def test_resizemix_places_its_box_as_the_official_code_and_inside_as_an_option():
  # The official code (OpenMixup's resizemix, mmpretrain's ResizeMix): tau ~ U(0.1, 0.8), sides
  # int(tau * dim), a centre uniform over the pixels and the box clipped by the image. Its
  # sampler run 20,000 times at 32 x 32 pastes a mean area of 0.158 and clips 59 % of boxes.
  keys = jax.random.split(jax.random.key(0), 20000)
  for placement, mean_area, clipped_share in (('official', 0.158, 0.59), ('inside', 0.229, 0.0)):
    sample = lambda k: jnp.stack(resizemix.sample_resize_box(k, 32, 32, placement=placement))
    y1, y2, x1, x2 = np.asarray(jax.vmap(sample)(keys)).T
    tau_side = np.asarray(jax.vmap(lambda k: jax.random.uniform(
        jax.random.split(k, 3)[0], (), minval=0.1, maxval=0.8))(keys))  # fmt: skip
    full = 2 * (np.floor(tau_side * 32).astype(int) // 2)
    clipped = ((y2 - y1) < full) | ((x2 - x1) < full)
    assert abs(((y2 - y1) * (x2 - x1) / 1024).mean() - mean_area) < 0.004, placement
    assert abs(clipped.mean() - clipped_share) < 0.02, placement
  with pytest.raises(ValueError, match="unknown placement 'centre'; valid: official, inside"):
    cm.resizemix(jax.random.key(0), jnp.ones((2, 8, 8, 3)), jnp.ones((2, 2)), placement='centre')


def test_resizemix_pastes_the_whole_partner_shrunk_into_the_box():
  rng = np.random.default_rng(0)
  images = jnp.asarray(rng.uniform(size=(N, 8, 8, 3)), jnp.float32)
  labels = cm.one_hot(jnp.arange(N), N)
  key = jax.random.key(3)
  mixed, mixed_labels = cm.resizemix(key, images, labels, scale=(0.5, 0.5), placement='inside')
  pairing = cm.draw_partners(key, images)  # the partners of every op with this key
  partner = np.asarray(images)[np.asarray(pairing.permutation)]
  changed = np.asarray(mixed != images).any(axis=(0, 3))
  rows, cols = np.nonzero(changed)
  y1, x1 = rows.min(), cols.min()
  # Halving by bilinear resampling at half-pixel centres: each pixel is a 2 x 2 block mean.
  blocks = partner.reshape(N, 4, 2, 4, 2, 3).mean(axis=(2, 4))
  np.testing.assert_allclose(np.asarray(mixed)[:, y1 : y1 + 4, x1 : x1 + 4], blocks, rtol=1e-5)
  moved = np.asarray(pairing.permutation) != np.arange(N)
  weights = np.asarray(mixed_labels)[np.arange(N), np.asarray(pairing.permutation)]
  np.testing.assert_allclose(weights[moved], 16 / 64)


def test_resize_box_sides_follow_the_scale():
  for seed in range(30):
    box = resizemix.sample_resize_box(jax.random.key(seed), 40, 20, placement='inside')
    y1, y2, x1, x2 = (int(v) for v in box)
    assert 4 <= y2 - y1 <= 32 and 2 <= x2 - x1 <= 16 and 0 <= y1 and y2 <= 40 and x2 <= 20
    assert (y2 - y1) / 40 == pytest.approx((x2 - x1) / 20, abs=0.06)  # one tau for both sides


# --- SaliencyMix ----------------------------------------------------------------------------
def _natural_images(count):
  """Real CIFAR-10 images of the built-in set (uint8), a few of each class."""
  evaluation = cifar10_mini.read_archive()['eval'][0]
  return evaluation[:: len(evaluation) // count][:count]


def test_saliency_map_equals_opencvs_fine_grained_map_pixel_for_pixel():
  # OpenCV itself is the reference (opencv-contrib-python-headless, in the dev extra), as the
  # official SaliencyMix code calls it: StaticSaliencyFineGrained on the image array.
  import cv2  # pylint: disable=g-import-not-at-top

  detector = cv2.saliency.StaticSaliencyFineGrained_create()
  rng = np.random.default_rng(0)
  images = list(_natural_images(40)) + [
      rng.integers(0, 256, (24, 40, 3), dtype=np.uint8),  # not square
      rng.integers(0, 256, (48, 48, 1), dtype=np.uint8),  # grey
  ]
  saliency = jax.jit(cm.saliency_map)
  for image in images:
    ok, reference = detector.computeSaliency(image)
    assert ok
    np.testing.assert_array_equal(
        np.asarray(saliency(jnp.asarray(image))), np.round(reference * 255).astype(int)
    )


def test_saliency_peaks_at_a_lone_object():
  rng = np.random.default_rng(0)
  image = rng.integers(40, 60, (32, 32, 3)).astype(np.uint8)
  image[20:24, 6:10] = 250  # a small bright square, centred at (21.5, 7.5)
  row, col = (int(v) for v in saliencymix.peak(cm.saliency_map(jnp.asarray(image))))
  assert abs(row - 21.5) <= 3 and abs(col - 7.5) <= 3
  as_float = (image.astype(np.float32) - 50.0) / 20.0  # normalized: stretched back to [0, 255]
  peak = saliencymix.peak(cm.saliency_map(jnp.asarray(as_float)))
  assert abs(int(peak[0]) - row) <= 1 and abs(int(peak[1]) - col) <= 1


def _objects(seed=1):
  rng = np.random.default_rng(seed)
  images = rng.integers(40, 60, (N, 32, 32, 3)).astype(np.uint8)
  centres = [(6 + 3 * n, 25 - 2 * n) for n in range(N)]
  for n, (r, c) in enumerate(centres):
    images[n, r - 2 : r + 2, c - 2 : c + 2] = 250
  return jnp.asarray(images), centres


def test_saliencymix_pastes_one_box_per_batch_on_the_first_images_partner():
  images, centres = _objects()
  labels = cm.one_hot(jnp.arange(N), N)
  key = jax.random.key(2)
  draw = cm.draw_saliencymix(key, images)
  y1, y2, x1, x2 = (int(edge) for edge in draw.box)
  first_partner = int(draw.pairing.permutation[0])  # the official code: rand_index[0]'s peak
  assert (y1, y2, x1, x2) == _box_on_peak(images[first_partner], draw.lam)
  r, c = centres[first_partner]  # here on its object
  assert y1 <= r - 1 and r < y2 and x1 <= c - 1 and c < x2
  mixed, mixed_labels = cm.saliencymix(key, images, labels)
  changed = np.asarray(mixed != images).any(axis=(0, 3))
  inside = np.zeros((32, 32), bool)
  inside[y1:y2, x1:x2] = True
  assert not changed[~inside].any()  # one box for every image of the batch
  np.testing.assert_allclose(np.asarray(mixed_labels).sum(axis=1), 1.0, rtol=1e-6)


_saliency_peak = jax.jit(lambda image: saliencymix.peak(cm.saliency_map(image)))


def _box_on_peak(image, lam, side=32):
  """CutMix's box for `lam`, centred on the saliency peak of `image`, clipped."""
  row, col = (int(v) for v in _saliency_peak(image))
  half = int(np.floor(side * np.sqrt(1.0 - float(lam)))) // 2
  return (max(row - half, 0), min(row + half, side), max(col - half, 0), min(col + half, side))


def test_saliencymix_mode_elem_puts_each_box_on_its_own_partners_peak():
  images, _ = _objects()
  draw = cm.draw_saliencymix(jax.random.key(2), images, mode='elem')
  assert draw.lam.shape == (N,)
  for n in range(N):
    partner = images[int(draw.pairing.permutation[n])]
    assert tuple(int(edge[n]) for edge in draw.box) == _box_on_peak(partner, draw.lam[n])


# --- Boxes and keypoints --------------------------------------------------------------------
PASTE = (4, 12, 4, 12)  # rows 4..11, columns 4..11: pixels [4, 12) x [4, 12)


def _boxes(*coords):
  coords = jnp.asarray([coords], jnp.float32)
  return cm.Boxes(coords, jnp.ones(coords.shape[:2], bool), jnp.arange(coords.shape[1])[None])


def test_own_boxes_keep_what_stays_visible():
  own = _boxes(
      (5, 5, 11, 11),  # fully covered: dropped
      (0, 0, 20, 20),  # around the paste: visible part spans it, unchanged
      (6, 2, 10, 8),  # left part visible, full height covered: shrinks to x in [2, 4]
      (2, 2, 6, 6),  # a corner covered (4 of 16): unchanged, kept
      (6, 10, 10, 14),  # right half visible: x in [12, 14]; visible 8 of 16 >= 0.25
      (6, 3, 10, 12),  # 1 of 9 columns visible (4 / 36 < 0.25): dropped
  )
  nothing = _boxes(*([(0, 0, 0, 0)] * 6))._replace(valid=jnp.zeros((1, 6), bool))
  out = detection.paste_boxes(own, nothing, PASTE)
  np.testing.assert_array_equal(out.valid[0, :6], [False, True, True, True, True, False])
  np.testing.assert_allclose(out.coords[0, 1], (0, 0, 20, 20))
  np.testing.assert_allclose(out.coords[0, 2], (6, 2, 10, 4))
  np.testing.assert_allclose(out.coords[0, 3], (2, 2, 6, 6))
  np.testing.assert_allclose(out.coords[0, 4], (6, 12, 10, 14))
  assert not np.asarray(out.valid[0, 6:]).any()


def test_partner_boxes_are_clipped_to_the_paste():
  partner = _boxes(
      (5, 5, 11, 11),  # fully inside: kept as it is
      (10, 10, 18, 18),  # 2 x 2 of 8 x 8 inside: 4 / 64 < 0.25, dropped
      (2, 6, 10, 10),  # straddling the top edge: clipped to y in [4, 10], 24 of 32 kept
      (0, 0, 3, 3),  # outside: dropped
      (0, 0, 16, 16),  # at the image border, covering the paste: clipped to it, 64/256 = 0.25 kept
  )
  nothing = _boxes(*([(0, 0, 0, 0)] * 5))._replace(valid=jnp.zeros((1, 5), bool))
  out = detection.paste_boxes(nothing, partner, PASTE)
  np.testing.assert_array_equal(out.valid[0, 5:], [True, False, True, False, True])
  np.testing.assert_allclose(out.coords[0, 5], (5, 5, 11, 11))
  np.testing.assert_allclose(out.coords[0, 7], (4, 6, 10, 10))
  np.testing.assert_allclose(out.coords[0, 9], (4, 4, 12, 12))
  np.testing.assert_array_equal(out.labels[0], [0, 1, 2, 3, 4, 0, 1, 2, 3, 4])


def test_keypoints_follow_the_paste():
  points = cm.Keypoints(
      jnp.asarray([[[5.0, 5.0], [1.0, 1.0], [11.5, 4.0]]]), jnp.ones((1, 3), bool)
  )
  out = detection.paste_keypoints(points, points, PASTE)
  np.testing.assert_array_equal(out.visible[0], [False, True, False, True, False, True])


def test_cutmix_carries_boxes_through_jit():
  images = _index_images()
  coords = jnp.broadcast_to(jnp.asarray([[1.0, 1.0, 6.0, 5.0], [0.0, 0.0, 12.0, 10.0]]), (N, 2, 4))
  own = cm.Boxes(coords, jnp.ones((N, 2), bool))
  key = jax.random.key(11)
  mix = jax.jit(lambda k, x, y, b: cm.cutmix(k, x, y, b, num_classes=N))
  mixed, _, out = mix(key, images, jnp.arange(N), own)
  assert out.coords.shape == (N, 4, 4) and out.valid.shape == (N, 4) and out.labels is None
  draw = cm.draw_cutmix(key, images)
  expected = detection.paste_boxes(own, own._replace(
      coords=own.coords[draw.pairing.permutation]), draw.box(H, W))  # fmt: skip
  np.testing.assert_array_equal(out.valid, expected.valid)
  np.testing.assert_array_equal(out.coords, expected.coords)


def test_mask_ops_refuse_boxes():
  images = _index_images()
  own = cm.Boxes(jnp.zeros((N, 1, 4)), jnp.ones((N, 1), bool))
  with pytest.raises(ValueError, match='rectangular paste only'):
    cm.fmix(jax.random.key(0), images, jnp.arange(N), own, num_classes=N)


# --- Methods in the train step, and plug-ins ------------------------------------------------
@pytest.mark.parametrize('method', ['fmix', 'resizemix', 'saliencymix', 'test_family:halves'])
def test_every_method_runs_in_mix_batch_under_jit(method):
  images = jax.random.uniform(jax.random.key(0), (N, 16, 16, 3), dtype=jnp.bfloat16)
  labels = cm.one_hot(jnp.arange(N), N)
  config = cm.MixConfig(method=method, prob=1.0)
  mixed, mixed_labels = jax.jit(cm.mix_batch, static_argnames='config')(
      jax.random.key(1), images, labels, config=config
  )
  assert mixed.dtype == jnp.bfloat16 and mixed.shape == images.shape
  np.testing.assert_allclose(np.asarray(mixed_labels).sum(axis=1), 1.0, rtol=1e-5)
  assert not np.array_equal(np.asarray(mixed, np.float32), np.asarray(images, np.float32))


def halves(rng, images, labels, *extras, alpha, partners, axis_name, share=0.5):
  """A plug-in method for the tests here: the top `share` of the rows from the partner."""
  del alpha
  mask = jnp.arange(images.shape[1])[:, None] < round(images.shape[1] * share)
  mask = jnp.broadcast_to(mask, images.shape[1:3])
  pairing = cm.draw_partners(rng, images, partners, axis_name)
  return cm.mix_by_mask(images, labels, mask, pairing, *extras)


def no_extras(rng, images, *, alpha, partners, axis_name):  # labels missing
  return images


def wrong_shape(rng, images, labels, *extras, alpha, partners, axis_name):
  return images[:, :8], labels


def one_array(rng, images, labels, *extras, alpha, partners, axis_name):
  return images  # the labels forgotten


def raises(rng, images, labels, *extras, alpha, partners, axis_name):
  raise KeyError('no such thing')


@pytest.mark.parametrize(
    'method, settings, message',
    [
        ('test_family:no_extras', {}, r'its signature \(rng, images, \*, alpha, partners'),
        ('test_family:wrong_shape', {}, r"returned \[\(\(4, 8, 16, 3\), 'float32'\), .*expected"),
        ('test_family:one_array', {}, r"returned \[\(\(4, 16, 16, 3\), 'float32'\)\]; expected"),
        ('test_family:raises', {}, "raised KeyError on a .*: 'no such thing'"),
        ('test_family:halves', {'shares': 2}, 'has no setting shares; its settings: share$'),
    ],
)
def test_a_plug_in_mistake_is_one_line_naming_the_function(method, settings, message):
  with pytest.raises(ValueError, match=rf"^mix method '{method}'.*{message}") as error:
    cm.MixConfig(method=method, settings=settings)
  assert '\n' not in str(error.value)


def test_a_plug_in_takes_its_own_setting_and_the_extras_through_mix_batch():
  images = jnp.broadcast_to(jnp.arange(N, dtype=jnp.float32)[:, None, None, None], (N, 8, 8, 3))
  labels = cm.one_hot(jnp.arange(N), N)
  seg = jnp.broadcast_to(jnp.arange(N, dtype=jnp.int32)[:, None, None], (N, 8, 8))
  config = cm.MixConfig(method='test_family:halves', settings={'share': 0.25})
  mixed, mixed_labels, mixed_seg = cm.mix_batch(
      jax.random.key(1), images, labels, seg, config=config
  )
  partner = np.asarray(cm.draw_partners(jax.random.split(jax.random.key(1))[1], images).permutation)
  np.testing.assert_array_equal(
      np.asarray(mixed_seg)[:, :2], np.broadcast_to(partner[:, None, None], (N, 2, 8))
  )
  np.testing.assert_array_equal(
      np.asarray(mixed)[:, 2:, :, 0], np.broadcast_to(np.arange(N)[:, None, None], (N, 6, 8))
  )
  moved = partner != np.arange(N)
  np.testing.assert_allclose(np.asarray(mixed_labels)[moved, partner[moved]], 0.25)


@pytest.mark.parametrize(
    'method, message',
    [('no_such_module:op', "cannot import 'no_such_module'"),
     ('test_family:no_such_op', "test_family has no function 'no_such_op'"),
     ('cutmixx', "valid methods: none, cutmix, mixup, cutout, fmix, resizemix, saliencymix, "
                 "transmix, or your own op as 'module.path:function'")],
)  # fmt: skip
def test_a_method_that_does_not_resolve_is_one_line(method, message):
  with pytest.raises(ValueError, match=message):
    cm.MixConfig(method=method)


@pytest.mark.slow
def test_train_py_takes_a_plug_in_method(tmp_path):
  env = {**os.environ, 'PYTHONPATH': os.path.join(REPO, 'tests')}
  args = [sys.executable, os.path.join(REPO, 'train.py'), f'--workdir={tmp_path}',
          '--config.data.source=shapes', '--config.data.synthetic_num_train=128',
          '--config.data.synthetic_num_test=16', '--config.batch_size=64',
          '--config.eval_batch_size=16', '--config.model=resnet_cifar8', '--config.num_epochs=1',
          '--config.dtype=float32', '--config.progress_bar=False']  # fmt: skip
  done = subprocess.run(args + ['--config.mix.method=test_family:halves',
                                '--config.mix.settings={"share": 0.25}'], env=env, cwd=REPO,
                        capture_output=True, text=True, timeout=600)  # fmt: skip
  assert done.returncode == 0, done.stderr[-2000:]
  saved = json.load(open(tmp_path / 'config.json'))['mix']['settings']
  assert saved == {'share': 0.25}
  bad_args = [a.replace(str(tmp_path), str(tmp_path / 'bad')) for a in args]
  bad = subprocess.run(bad_args + ['--config.mix.method=test_family:nothing'], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=600)  # fmt: skip
  assert bad.returncode == 1
  assert bad.stderr.strip().splitlines()[-1] == (
      "error: config.mix: mix method 'test_family:nothing': test_family has no function 'nothing'"
  )
