"""Tests of the mixing ops: provenance, exact areas, distribution, transforms, baselines, errors."""

import functools

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np
import pytest
from scipy import stats

import cutmix_jax as cm

N, H, W = 12, 32, 32


def _index_images(batch=N, height=H, width=W, channels=3):
  """Images whose pixel value encodes (batch index, row, column) exactly in float32."""
  n, y, x = np.meshgrid(np.arange(batch), np.arange(height), np.arange(width), indexing='ij')
  code = (n * height * width + y * width + x).astype(np.float32)
  return jnp.asarray(np.repeat(code[..., None], channels, axis=-1))


def _distinct_labels(batch=N):
  return cm.one_hot(jnp.arange(batch), batch)


def _decode(pixel_values, height=H, width=W):
  source = pixel_values // (height * width)
  position = pixel_values % (height * width)
  return source.astype(int), position.astype(int)


def _expected_box_and_perm(key, batch=N, mode='batch', alpha=1.0):
  """The partners and box(es) of `cutmix(key, ...)`, from its public draw."""
  draw = cm.draw_cutmix(key, jnp.zeros((batch, H, W, 1)), alpha=alpha, mode=mode)
  return np.asarray(draw.pairing.permutation), [np.asarray(b) for b in draw.box(H, W)]


def _single_rectangle(mask):
  """True if the True cells of `mask` are exactly one filled axis-aligned rectangle."""
  rows, cols = np.nonzero(mask)
  if rows.size == 0:
    return True
  rect = np.zeros_like(mask)
  rect[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] = True
  return np.array_equal(rect, mask)


@pytest.mark.parametrize('seed', range(12))
def test_cutmix_provenance_box_and_label_weight(seed):
  images, labels = _index_images(), _distinct_labels()
  key = jax.random.key(seed)
  mixed, mixed_labels = cm.cutmix(key, images, labels)
  perm, (y1, y2, x1, x2) = _expected_box_and_perm(key)
  expected_mask = np.asarray(cm.box_mask((y1, y2, x1, x2), H, W))
  expected_ratio = (y2 - y1) * (x2 - x1) / (H * W)
  source, position = _decode(np.asarray(mixed)[..., 0])
  own_position = np.arange(H * W).reshape(H, W)
  for n in range(N):
    # Every pixel stays in place and comes from the image itself or its partner.
    np.testing.assert_array_equal(position[n], own_position)
    assert set(np.unique(source[n])) <= {n, perm[n]}
    if perm[n] != n:
      from_partner = source[n] == perm[n]
      assert _single_rectangle(from_partner)
      np.testing.assert_array_equal(from_partner, expected_mask)
      assert abs(float(mixed_labels[n, perm[n]]) - expected_ratio) < 1e-6
      assert abs(float(mixed_labels[n, n]) - (1 - expected_ratio)) < 1e-6
    else:
      assert float(mixed_labels[n, n]) == pytest.approx(1.0, abs=1e-6)


def test_sample_box_clips_at_border_and_matches_official_side():
  boxes = jax.vmap(cm.sample_box, in_axes=(0, None, None, None))(
      jax.random.split(jax.random.key(0), 4000), 0.75, H, W
  )
  y1, y2, x1, x2 = (np.asarray(b) for b in boxes)
  side = int(H * np.sqrt(0.25))  # 16: unclipped height is 2 * (16 // 2)
  assert (y1 >= 0).all() and (y2 <= H).all() and (x1 >= 0).all() and (x2 <= W).all()
  assert (y2 - y1).max() == 2 * (side // 2)
  assert (y2 - y1).min() == side // 2  # a centre on the first/last row keeps half a side
  assert all(b.dtype == np.int32 for b in (y1, y2, x1, x2))


def test_per_batch_has_one_box_and_per_example_has_many():
  images, labels = _index_images(), _distinct_labels()
  for mode, expect_one in (('batch', True), ('elem', False)):
    key = jax.random.key(7)
    mixed, mixed_labels = cm.cutmix(key, images, labels, mode=mode)
    perm, boxes = _expected_box_and_perm(key, mode=mode)
    source, _ = _decode(np.asarray(mixed)[..., 0])
    masks = {(source[n] == perm[n]).tobytes() for n in range(N) if perm[n] != n}
    assert (len(masks) == 1) == expect_one
    if mode == 'elem':  # each image's label weight is its own box's area
      areas = (boxes[1] - boxes[0]) * (boxes[3] - boxes[2]) / (H * W)
      for n in range(N):
        if perm[n] != n:
          assert abs(float(mixed_labels[n, perm[n]]) - areas[n]) < 1e-6


def _official_area_ratios(rng, draws, height, width, clip=True):
  """NumPy re-statement of the official `rand_bbox` + area correction (clip=False: the bug)."""
  ratios = np.empty(draws)
  for i in range(draws):
    lam = rng.beta(1.0, 1.0)
    cut = np.sqrt(1.0 - lam)
    cut_w, cut_h = int(width * cut), int(height * cut)
    if clip:
      cx, cy = rng.integers(width), rng.integers(height)
    else:  # negative control: centre kept far enough inside that the box is never clipped
      cx = rng.integers(cut_w // 2, width - cut_w // 2 + 1)
      cy = rng.integers(cut_h // 2, height - cut_h // 2 + 1)
    x1, x2 = np.clip(cx - cut_w // 2, 0, width), np.clip(cx + cut_w // 2, 0, width)
    y1, y2 = np.clip(cy - cut_h // 2, 0, height), np.clip(cy + cut_h // 2, 0, height)
    ratios[i] = (x2 - x1) * (y2 - y1) / (width * height)
  return ratios


def test_area_ratio_distribution_matches_official_algorithm():
  draws, height, width = 6000, 32, 24
  images = jnp.zeros((2, height, width, 1))
  labels = jnp.array([[1.0, 0.0], [0.0, 1.0]])
  keys = jax.random.split(jax.random.key(2024), draws)
  perms = jax.vmap(lambda k: cm.draw_cutmix(k, images).pairing.permutation)(keys)
  _, mixed_labels = jax.vmap(lambda k: cm.cutmix(k, images, labels))(keys)
  # The partner weight is the area ratio (image 0's partner is 1 when perm swaps, else itself).
  ratios = np.where(np.asarray(perms)[:, 0] == 1, np.asarray(mixed_labels)[:, 0, 1], np.nan)
  ours = ratios[~np.isnan(ratios)]
  rng = np.random.default_rng(0)
  official = _official_area_ratios(rng, draws, height, width)
  wrong = _official_area_ratios(rng, draws, height, width, clip=False)
  # Two-sample KS critical value at significance 1e-3: 1.95 * sqrt((n + m) / (n m)) ~ 0.036
  # for these sizes. A correct sampler passes; the unclipped variant is far outside it.
  n, m = len(ours), len(official)
  bound = 1.95 * np.sqrt((n + m) / (n * m))
  assert stats.ks_2samp(ours, official).statistic < bound
  assert stats.ks_2samp(wrong, official).statistic > bound
  assert stats.ks_2samp(ours, wrong).statistic > bound


def test_jit_vmap_pmap_equal_eager():
  images, labels = _index_images(batch=8), _distinct_labels(8)
  key = jax.random.key(3)
  eager = cm.cutmix(key, images, labels)
  jitted = jax.jit(cm.cutmix)(key, images, labels)
  for a, b in zip(eager, jitted):
    np.testing.assert_array_equal(a, b)

  keys = jax.random.split(key, jax.device_count())
  batched = jax.vmap(cm.cutmix, in_axes=(0, None, None))(keys, images, labels)
  for i, k in enumerate(keys):
    for a, b in zip(cm.cutmix(k, images, labels), batched):
      np.testing.assert_array_equal(a, b[i])
  # Under pmap each device mixes its own share with partners='device' and the axis named: the
  # call of one device with the key folded by its index.
  replicated = lambda x: jnp.broadcast_to(x, (len(keys),) + x.shape)
  per_device = functools.partial(cm.cutmix, partners='device', axis_name='batch')
  parallel = jax.pmap(per_device, axis_name='batch', in_axes=(None, 0, 0))(
      key, replicated(images), replicated(labels)
  )
  for i in range(len(keys)):
    one = cm.cutmix(jax.random.fold_in(key, i), images, labels)
    for a, c in zip(one, parallel):
      np.testing.assert_array_equal(a, c[i])


@pytest.mark.parametrize('op', ['cutmix', 'mixup', 'cutout', 'fmix', 'resizemix', 'saliencymix'])
@pytest.mark.parametrize('wrap', ['pmap', 'shard_map'])
def test_an_op_inside_pmap_or_shard_map_without_axis_name_is_refused(op, wrap):
  # There each device holds its share and the same key: without the axis every device would
  # draw the same partners and box. One line, naming the axis to pass.
  images, labels = _index_images(batch=16), _distinct_labels(16)
  mix = lambda key, x, y: getattr(cm, op)(key, x, y)
  if wrap == 'pmap':
    wrapped = jax.pmap(mix, axis_name='data', in_axes=(None, 0, 0))
    args = (jax.random.key(0), images.reshape((8, 2) + images.shape[1:]), labels.reshape(8, 2, -1))
  else:
    mesh = jax.make_mesh((8,), ('data',))
    wrapped = jax.jit(jax.shard_map(mix, mesh=mesh, in_specs=(P(), P('data'), P('data')),
                                    out_specs=P('data')))  # fmt: skip
    place = lambda x: jax.device_put(x, NamedSharding(mesh, P('data')))
    args = (jax.random.key(0), place(images), place(labels))
  with pytest.raises(ValueError, match=r"^a mixing op inside pmap / shard_map over 'data' needs "
                     r"axis_name \(the axis of the batch, e.g. axis_name='data'\)"):  # fmt: skip
    wrapped(*args)


def test_pmap_fold_in_axis_index_draws_a_different_box_per_device():
  assert jax.device_count() == 8, 'run with XLA_FLAGS=--xla_force_host_platform_device_count=8'
  key = jax.random.key(11)

  def per_device_box(_):
    device_key = jax.random.fold_in(key, jax.lax.axis_index('batch'))
    return jnp.stack(cm.sample_box(device_key, 0.5, H, W))

  boxes = np.asarray(jax.pmap(per_device_box, axis_name='batch')(jnp.arange(8)))
  assert len({tuple(b) for b in boxes}) == 8


def test_dtype_preserved_including_bfloat16():
  for dtype in (jnp.bfloat16, jnp.float16, jnp.float32):
    images = jnp.ones((4, 8, 8, 3), dtype)
    labels = cm.one_hot(jnp.arange(4), 4)
    for fn in (cm.cutmix, cm.mixup, lambda k, x, y: cm.cutout(k, x, y, size=4)):
      mixed, mixed_labels = fn(jax.random.key(0), images, labels)
      assert mixed.dtype == dtype and mixed.shape == images.shape
      assert mixed_labels.dtype == labels.dtype


def test_mixup_uses_one_lam_for_pixels_and_labels():
  images = jax.random.uniform(jax.random.key(1), (N, 8, 8, 3))
  labels = _distinct_labels()
  mixed, mixed_labels = cm.mixup(jax.random.key(5), images, labels, alpha=1.0)
  perm = cm.draw_cutmix(jax.random.key(5), images).pairing.permutation  # the same partners
  for n in range(N):
    if perm[n] != n:
      own = float(mixed_labels[n, n])
      np.testing.assert_allclose(mixed[n], own * images[n] + (1 - own) * images[perm[n]], atol=1e-5)


def test_cutout_zeroes_a_clipped_square_and_keeps_labels():
  images, labels = jnp.ones((64, 32, 32, 3)), _distinct_labels(64)
  holed, same_labels = cm.cutout(jax.random.key(0), images, labels, size=16)
  np.testing.assert_array_equal(same_labels, labels)
  holes = np.asarray(holed[..., 0]) == 0
  areas = holes.sum(axis=(1, 2))
  assert all(_single_rectangle(h) for h in holes)
  assert areas.max() == 256 and areas.min() >= 64 and (areas < 256).any()


def test_prob_zero_returns_inputs_bit_for_bit():
  images = jax.random.normal(jax.random.key(0), (8, 16, 16, 3), jnp.bfloat16)
  labels = cm.one_hot(jnp.arange(8), 8, smoothing=0.1)
  for method in cm.METHODS:
    config = cm.MixConfig(method=method, prob=0.0)
    for fn in (cm.mix_batch, jax.jit(cm.mix_batch, static_argnames='config')):
      out_images, out_labels = fn(jax.random.key(1), images, labels, config=config)
      np.testing.assert_array_equal(out_images.view(jnp.uint16), images.view(jnp.uint16))
      np.testing.assert_array_equal(out_labels, labels)


def test_apply_rate_matches_prob_and_switch_picks_mixup():
  images, labels = jnp.ones((4, 8, 8, 1)), _distinct_labels(4)
  config = cm.MixConfig(method='cutout', prob=0.3, sections={'cutout': {'size': 4}})
  keys = jax.random.split(jax.random.key(0), 4000)
  mixed, _ = jax.jit(jax.vmap(lambda k: cm.mix_batch(k, images, labels, config=config)))(keys)
  rate = float((np.asarray(mixed) == 0).any(axis=(1, 2, 3, 4)).mean())
  assert abs(rate - 0.3) < 0.03  # binomial std is 0.007 at 4000 draws

  # With mixup_prob 1 every mixed batch is a Mixup: each image is lam * x + (1 - lam) * x[j]
  # with the lam and partner j that its mixed one-hot label shows, the same lam for all.
  switched = cm.MixConfig(method='cutmix', sections={'cutmix': {'mixup_prob': 1.0}})
  one_hots = cm.one_hot(jnp.arange(4), 4)
  rand = jax.random.uniform(jax.random.key(2), (4, 8, 8, 1))
  mixed = cm.mix_batch(jax.random.key(9), rand, one_hots, config=switched)
  out_images, out_labels = map(np.asarray, mixed)
  for i, row in enumerate(out_labels):
    own = row[i]
    partner = i if own == 1.0 else int(np.argmax(np.where(np.arange(4) == i, -1, row)))
    expected = own * rand[i] + (1.0 - own) * rand[partner]
    np.testing.assert_allclose(out_images[i], expected, rtol=1e-6, atol=1e-6)
  lams = {round(float(max(row)), 5) for row in out_labels if max(row) < 1.0}
  assert len(lams) == 1  # one lam for the batch, and the batch was mixed


def test_one_hot_with_smoothing():
  targets = cm.one_hot(jnp.array([0, 2]), 4, smoothing=0.2)
  np.testing.assert_allclose(targets, [[0.85, 0.05, 0.05, 0.05], [0.05, 0.05, 0.85, 0.05]])


@pytest.mark.parametrize(
    'call, message',
    [
        (
            lambda: cm.cutmix(jax.random.key(0), jnp.ones((8, 8, 3)), jnp.ones((8, 2))),
            'images must',
        ),
        (
            lambda: cm.cutmix(jax.random.key(0), jnp.ones((4, 8, 8, 3)), jnp.ones((5, 2))),
            'labels batch size 5',
        ),
        (
            lambda: cm.mixup(jax.random.key(0), jnp.ones((4, 8, 8, 3)), jnp.ones((4,))),
            r'need num_classes=K \(or pass soft targets',
        ),
        (
            lambda: cm.cutmix(
                jax.random.key(0), jnp.ones((4, 8, 8, 3)), jnp.ones((4, 2)), alpha=0.0
            ),
            'alpha must be > 0',
        ),
        (
            lambda: cm.mixup(jax.random.key(0), jnp.ones((4, 8, 8, 3)), jnp.ones((4, 2)), alpha=-1),
            'alpha must be > 0',
        ),
        (
            lambda: cm.cutout(jax.random.key(0), jnp.ones((4, 8, 8, 3)), jnp.ones((4, 2)), size=0),
            'size must be a positive integer',
        ),
        (lambda: cm.MixConfig(prob=1.5), 'prob must be in'),
        (
            lambda: cm.MixConfig(sections={'cutmix': {'mixup_prob': -0.1}}),
            'mixup_prob must be in',
        ),
        (lambda: cm.MixConfig(method='cutmixx'), 'valid methods: none, cutmix, mixup, cutout'),
        (
            lambda: cm.mix_batch(
                jax.random.key(0),
                jnp.ones((4, 8, 8, 3)),
                jnp.ones((4, 2)),
                config={'method': 'mixup', 'prob': 2.0},
            ),
            'prob must be in',
        ),
        (
            lambda: cm.mix_batch(
                jax.random.key(0),
                jnp.ones((4, 8, 8)),
                jnp.ones((4, 2)),
                config={'method': 'cutmix'},
            ),
            r'images must be NHWC \(N, H, W, C\) or clips',
        ),
    ],
)
def test_bad_input_raises_clear_value_error(call, message):
  with pytest.raises(ValueError, match=message):
    call()


# ---------------------------------------------------------------------------------------------
# Inputs: label forms, dtypes, clips, layouts, NumPy scalars, traced hyper-parameters
# ---------------------------------------------------------------------------------------------
def test_integer_labels_with_num_classes_equal_one_hot_targets():
  images = jax.random.normal(jax.random.key(0), (8, 16, 16, 3))
  labels = jnp.arange(8) % 4
  for op in (cm.cutmix, cm.mixup):
    from_ints = op(jax.random.key(1), images, labels, num_classes=4)
    from_soft = op(jax.random.key(1), images, cm.one_hot(labels, 4))
    for a, b in zip(from_ints, from_soft):
      np.testing.assert_array_equal(a, b)


def test_integer_soft_targets_are_promoted_not_truncated():
  images = jax.random.normal(jax.random.key(0), (8, 16, 16, 3))
  int_targets = jnp.eye(8, dtype=jnp.int32)
  _, mixed = cm.mixup(jax.random.key(1), images, int_targets)
  assert mixed.dtype == jnp.float32
  np.testing.assert_allclose(mixed.sum(axis=1), 1.0, rtol=1e-6)


def test_mixup_of_uint8_images_rounds_to_nearest():
  images = jnp.stack([jnp.full((4, 4, 3), 1, jnp.uint8), jnp.full((4, 4, 3), 2, jnp.uint8)])
  mixed, labels = cm.mixup(jax.random.key(3), images, jnp.arange(2), num_classes=2)
  partner = np.asarray(cm.draw_cutmix(jax.random.key(3), images).pairing.permutation)
  own = float(labels[0, 0]) if partner[0] != 0 else 1.0  # lam, the weight kept on each image
  expected = np.rint(own * np.array([1.0, 2.0]) + (1 - own) * np.array([1.0, 2.0])[partner])
  assert mixed.dtype == jnp.uint8
  np.testing.assert_array_equal(np.asarray(mixed)[:, 0, 0, 0], expected)


def test_clips_get_one_box_per_clip_across_time():
  clips = jax.random.normal(jax.random.key(0), (6, 5, 16, 16, 3))
  mixed, _ = cm.cutmix(jax.random.key(4), clips, jnp.arange(6), num_classes=6)
  changed = np.asarray(mixed != clips).any(axis=-1)  # (N, T, H, W)
  moved = np.asarray(cm.draw_cutmix(jax.random.key(4), clips).pairing.permutation) != np.arange(6)
  assert moved.any()
  for frames in changed[moved]:
    assert (frames == frames[0]).all() and frames[0].any()  # the same box in every frame
  holed, _ = cm.cutout(jax.random.key(5), clips, jnp.arange(6), num_classes=6, size=6)
  holes = np.asarray(holed == 0).all(axis=-1)
  assert all((h == h[0]).all() and h[0].any() for h in holes)


def test_channel_first_input_is_refused_with_the_expected_layout():
  with pytest.raises(ValueError, match=r'look channel-first .*transpose\(0, 2, 3, 1\)'):
    cm.cutmix(jax.random.key(0), jnp.ones((8, 3, 32, 32)), jnp.arange(8), num_classes=8)


def test_numpy_scalars_and_concrete_range_checks():
  images = jnp.ones((4, 16, 16, 3))
  holed, _ = cm.cutout(jax.random.key(0), images, jnp.arange(4), num_classes=4, size=np.int64(8))
  assert (np.asarray(holed) == 0).any()
  box = cm.sample_box(jax.random.key(0), np.float32(0.5), 16, 16)
  assert 0 < float(cm.box_area_ratio(box, 16, 16)) <= 0.5
  with pytest.raises(ValueError, match=r'lam must be in \[0, 1\]; got 1.5'):
    cm.sample_box(jax.random.key(0), 1.5, 16, 16)
  with pytest.raises(ValueError, match=r'labels must be in \[0, 4\); got values from 0 to 4'):
    cm.one_hot(jnp.arange(5), 4)


@pytest.mark.parametrize('op', [cm.cutmix, cm.mixup, cm.fmix])
def test_integer_labels_out_of_range_are_refused_by_every_op(op):
  images = jnp.ones((8, 16, 16, 3))
  with pytest.raises(ValueError, match=r'labels must be in \[0, 10\); got values from 5 to 12'):
    op(jax.random.key(0), images, jnp.arange(8) + 5, num_classes=10)


def test_alpha_and_prob_may_be_traced():
  images = jax.random.normal(jax.random.key(0), (8, 16, 16, 3))
  labels = cm.one_hot(jnp.arange(8), 8)
  traced_alpha = jax.jit(lambda a: cm.cutmix(jax.random.key(1), images, labels, alpha=a))
  np.testing.assert_array_equal(
      traced_alpha(0.4)[0], cm.cutmix(jax.random.key(1), images, labels, alpha=0.4)[0]
  )
  config = cm.MixConfig(method='cutmix')
  with_prob = jax.jit(
      lambda p: cm.mix_batch(jax.random.key(2), images, labels, config=config, prob=p)
  )
  np.testing.assert_array_equal(with_prob(0.0)[0], images)  # traced 0: never mixed
  np.testing.assert_array_equal(
      with_prob(1.0)[0], cm.mix_batch(jax.random.key(2), images, labels, config=config, prob=1.0)[0]
  )


# ---------------------------------------------------------------------------------------------
# Dense targets and what was drawn
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('mode', ['batch', 'elem', 'pair'])
def test_segmentation_masks_follow_the_same_boxes_and_partners(mode):
  images = jnp.broadcast_to(jnp.arange(8.0)[:, None, None, None], (8, 16, 16, 3))
  for masks in (
      jnp.broadcast_to(jnp.arange(8)[:, None, None], (8, 16, 16)),
      jax.nn.one_hot(jnp.broadcast_to(jnp.arange(8)[:, None, None], (8, 16, 16)), 8),
  ):
    key = jax.random.key(6)
    mixed, labels, mixed_masks = cm.cutmix(
        key, images, jnp.arange(8), masks, num_classes=8, mode=mode
    )
    source = np.asarray(mixed)[..., 0]  # which image each pixel came from
    ids = np.asarray(mixed_masks) if masks.ndim == 3 else np.asarray(mixed_masks).argmax(-1)
    np.testing.assert_array_equal(ids, source)
    permutation = np.asarray(cm.draw_cutmix(key, images, mode=mode).pairing.permutation)
    area = (source != np.arange(8)[:, None, None]).mean(axis=(1, 2))
    moved = permutation != np.arange(8)
    weight = np.asarray(labels)[np.arange(8), permutation]
    np.testing.assert_allclose(area[moved], weight[moved], atol=1e-6)


def test_minmax_boxes_follow_timm_and_correct_lam_false_uses_the_sampled_lam():
  images = jnp.broadcast_to(jnp.arange(8.0)[:, None, None, None], (8, 20, 20, 1))
  for seed in range(20):
    key = jax.random.key(seed)
    mixed, labels = cm.cutmix(key, images, jnp.arange(8), num_classes=8, minmax=(0.2, 0.6))
    draw = cm.draw_cutmix(key, images, minmax=(0.2, 0.6))
    y1, y2, x1, x2 = (int(v) for v in draw.box(20, 20))
    assert 4 <= y2 - y1 < 12 and 4 <= x2 - x1 < 12  # sides in [int(20*0.2), int(20*0.6))
    assert 0 <= y1 and y2 < 20 and 0 <= x1 and x2 < 20  # placed inside, never clipped
    moved = int(np.flatnonzero(np.asarray(draw.pairing.permutation) != np.arange(8))[0])
    partner = int(draw.pairing.permutation[moved])
    assert float(labels[moved, partner]) == pytest.approx((y2 - y1) * (x2 - x1) / 400)
  key = jax.random.key(0)
  _, labels = cm.cutmix(key, images, jnp.arange(8), num_classes=8, correct_lam=False)
  draw = cm.draw_cutmix(key, images)
  moved = int(np.flatnonzero(np.asarray(draw.pairing.permutation) != np.arange(8))[0])
  assert float(labels[moved, moved]) == pytest.approx(float(draw.lam), rel=1e-6)


def test_switch_uses_its_own_mixup_alpha():
  labels = cm.one_hot(jnp.arange(8), 8)
  images = jnp.zeros((8, 8, 8, 1))

  def middle_share(mixup_alpha):
    """Share of switched (Mixup) batches whose lam lies in [0.3, 0.7]."""
    own = {'mixup_prob': 1.0, 'mixup_alpha': mixup_alpha}
    config = cm.MixConfig(method='cutmix', alpha=1.0, sections={'cutmix': own})
    draw = lambda k: cm.mix_batch(k, images, labels, config=config)[1].max(axis=1).min()
    lams = jax.jit(jax.vmap(draw))(jax.random.split(jax.random.key(0), 2000))
    lams = np.maximum(np.asarray(lams), 1 - np.asarray(lams))
    return float(((lams >= 0.3) & (lams <= 0.7)).mean())

  # Beta(1, 1) puts 40 % there, Beta(0.2, 0.2) about 13 %.
  assert abs(middle_share(0.0) - 0.4) < 0.04 and abs(middle_share(0.2) - 0.13) < 0.04
