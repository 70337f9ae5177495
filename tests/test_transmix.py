"""TransMix: the official code's labels, the patches it counts as pasted, the draw it shares with
the mix, and its place in a train step."""

from conftest import small_run_config
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

import cutmix_jax as cm
from cutmix_jax.config.checks import ConfigError
from cutmix_jax.ops import transmix
from cutmix_jax.training import run_builder

# `Mixup_transmix.transmix_label` of the official code (Beckschen/TransMix, transmix.py at
# 7e313ca), run on the CPU (its `.cuda()` as the identity) with the class-token attention
# `_ATTENTION` of three 32x32 images on a 4x4 patch grid, labels 0, 2, 3 smoothed by 0.1 over 4
# classes, the batch flipped as partners (image 1 is its own partner), for four boxes
# (y1, y2, x1, x2): the targets' classes 0 and 3 of images 0 and 2.
_OFFICIAL = {
    (5, 21, 9, 30): [[0.6797722, 0.2702278], [0.2824054, 0.6675948]],
    (0, 32, 0, 32): [[0.025, 0.925], [0.925, 0.025]],
    (8, 8, 3, 20): [[0.925, 0.025], [0.025, 0.925]],
    (3, 12, 0, 9): [[0.8443011, 0.1056989], [0.1478624, 0.8021376]],
}
_ATTENTION = np.random.default_rng(0).dirichlet(np.ones(16), size=3).astype(np.float32)


def _smoothed(labels):
  return np.asarray(cm.one_hot(jnp.asarray(labels), 4, 0.1))


@pytest.mark.parametrize('box', sorted(_OFFICIAL))
def test_the_official_codes_labels(box):
  own, partner = _smoothed([0, 2, 3]), _smoothed([3, 2, 0])
  area = (box[1] - box[0]) * (box[3] - box[2]) / 32**2
  mixed = own * (1 - area) + partner * area  # CutMix's labels (correct_lam)
  share = transmix.attention_share(_ATTENTION, transmix.patch_mask(box, 32, 32, 4))
  got = np.asarray(transmix.transmix_targets(own, mixed, area, area, share))
  np.testing.assert_allclose(got[[0, 2]][:, [0, 3]], _OFFICIAL[box], atol=2e-7)
  np.testing.assert_allclose(got[1], own[1], atol=1e-7)  # its own partner: nothing changes


def test_a_patch_counts_as_pasted_when_its_top_left_pixel_is_in_the_box():
  mask = np.asarray(transmix.patch_mask((5, 21, 9, 30), 32, 32, 4)).reshape(4, 4)
  # Patch rows start at pixels 0, 8, 16, 24: rows 8 and 16 lie in [5, 21); columns 16, 24 in
  # [9, 30) (column 8 does not: the patch at 8 is partly in the box, its corner is not).
  np.testing.assert_array_equal(mask, np.outer([0, 1, 1, 0], [0, 0, 1, 1]).astype(bool))


def test_relabel_follows_the_draw_of_the_mix_it_relabels():
  # Uniform attention: its share on the pasted patches is their count / 16. Each key's batch is
  # unmixed, mixed by Mixup or by CutMix; the box is read off the pixels that changed.
  config = cm.MixConfig(method='transmix', prob=0.7, sections={'transmix': {'mixup_prob': 0.5}})
  images = jax.random.uniform(jax.random.key(7), (8, 32, 32, 3))
  own = cm.one_hot(jnp.arange(8), 8)
  attention = jnp.full((8, 16), 1 / 16)
  relabel = jax.jit(
      lambda key, x, y: transmix.relabel(key, images, own, y, attention, config=config, prob=0.7)
  )
  mix = jax.jit(lambda key: cm.mix_batch(key, images, own, config=config))
  seen = set()
  for seed in range(16):
    key = jax.random.key(seed)
    mixed_images, mixed = mix(key)
    got = np.asarray(relabel(key, mixed_images, mixed))
    changed = np.any(np.asarray(mixed_images) != np.asarray(images), axis=-1)  # (N, H, W)
    moved = changed.any(axis=(1, 2))
    if not moved.any():
      seen.add('unmixed')
      np.testing.assert_array_equal(got, own)
      continue
    rows = np.flatnonzero(moved)
    if changed[rows].all():
      seen.add('mixup')
      np.testing.assert_array_equal(got, mixed)
      continue
    seen.add('cutmix')
    ys, xs = np.nonzero(changed[rows[0]])
    box = (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1)
    area = (box[1] - box[0]) * (box[3] - box[2]) / 32**2
    share = np.asarray(transmix.patch_mask(box, 32, 32, 4)).mean()
    lam = (area + share) / 2
    expected = np.asarray(own) + lam * (np.asarray(mixed) - np.asarray(own)) / area
    np.testing.assert_allclose(got[rows], expected[rows], atol=1e-6)
  assert seen == {'unmixed', 'mixup', 'cutmix'}


def _vit_transmix_config(**mix):
  config = small_run_config(model='vit_cifar', **{'mix.method': 'transmix', **mix})
  config.model_settings = ml_collections.ConfigDict({'width': 32, 'depth': 2, 'num_heads': 2})
  return config


@pytest.mark.slow  # two ViT train steps compiled (40 s)
def test_a_train_step_weighs_the_labels_by_the_vits_attention():
  # TransMix mixes the images as CutMix does from the same key: the same logits (so the same
  # accuracy), other labels (so another loss).
  metrics = {}
  for method in ('cutmix', 'transmix'):
    run = run_builder.build_run(_vit_transmix_config(**{'mix.method': method, 'mix.prob': 1.0}))
    where, initial = run.placement, run.initial_state()
    head = initial.params['head']  # at zero, as timm's: every logit 0 and every loss log K
    kernel = 0.1 * jax.random.normal(jax.random.key(3), head['kernel'].shape)
    params = {**initial.params, 'head': {**head, 'kernel': kernel}}
    state = where.put_state(initial.replace(params=params))
    _, step_metrics = run.train_step(state, where.put_batch(next(run.dataset.train_batches(0))))
    metrics[method] = where.first(step_metrics)
  assert metrics['transmix']['accuracy'] == metrics['cutmix']['accuracy']
  assert np.isfinite(metrics['transmix']['loss'])
  assert metrics['transmix']['loss'] != metrics['cutmix']['loss']


def test_transmix_needs_a_vit_and_mixes_alone():
  with pytest.raises(ConfigError, match=r"class token's attention of a ViT; config.model="):
    run_builder.build_run(small_run_config(**{'mix.method': 'transmix'}))
  with pytest.raises(ValueError, match='transmix weighs the labels after the forward pass'):
    cm.MixConfig(method='transmix,mixup')
  with pytest.raises(ValueError, match="one box per batch \\(mode 'batch'\\); got mode='elem'"):
    cm.MixConfig(method='transmix', sections={'transmix': {'mode': 'elem'}})
