"""One contract for every op: its draw reproduces exactly what it used, Cutout draws per device
like the others, arguments that must be static say so, and settings a method would ignore are
refused."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cutmix_jax as cm

N, H, W = 8, 12, 10
_KEY = jax.random.key(5)
_IMAGES = jnp.asarray(np.random.default_rng(1).uniform(size=(N, H, W, 3)), jnp.float32)
_LABELS = cm.one_hot(jnp.arange(N), N)
_box_masks = jax.vmap(cm.box_mask, in_axes=(0, None, None))


def _replayed(name):
  """`(op output, the same mix rebuilt from the op's public draw with the primitive)`."""
  if name == 'cutmix':
    draw = cm.draw_cutmix(_KEY, _IMAGES)
    mask, pairing, weight = cm.box_mask(draw.box(H, W), H, W), draw.pairing, None
  elif name == 'mixup':
    draw = cm.draw_mixup(_KEY, _IMAGES)
    mask, pairing, weight = jnp.full((H, W), 1.0 - draw.lam), draw.pairing, 1.0 - draw.lam
  elif name == 'fmix':
    draw = cm.draw_fmix(_KEY, _IMAGES)
    mask, pairing, weight = draw.mask, draw.pairing, None
  elif name == 'saliencymix':
    draw = cm.draw_saliencymix(_KEY, _IMAGES)  # one box for the batch
    mask, pairing, weight = cm.box_mask(draw.box, H, W), draw.pairing, None
  elif name == 'cutout':
    draw = cm.draw_cutout(_KEY, _IMAGES, size=6)
    replay = cm.mix_by_mask(
        _IMAGES,
        _LABELS,
        _box_masks(draw.box, H, W),
        draw.pairing,
        weight=0.0,
        partner_images=jnp.zeros_like(_IMAGES),
    )
    return cm.cutout(_KEY, _IMAGES, _LABELS, size=6), replay
  else:  # resizemix: the partner resized into the box, pasted there
    draw = cm.draw_resizemix(_KEY, _IMAGES)
    out = cm.resizemix(_KEY, _IMAGES, _LABELS)
    inside = np.asarray(cm.box_mask(draw.box, H, W))
    changed = np.asarray(out[0] != _IMAGES).any(axis=(0, 3))
    assert not changed[~inside].any()  # (the box may be empty: a clipped small tau)
    replay = cm.mix_by_mask(_IMAGES, _LABELS, inside, draw.pairing, partner_images=out[0])
    return out, replay
  return getattr(cm, name)(_KEY, _IMAGES, _LABELS), cm.mix_by_mask(
      _IMAGES, _LABELS, mask, pairing, weight=weight
  )


@pytest.mark.parametrize('name', ['cutmix', 'mixup', 'fmix', 'resizemix', 'saliencymix', 'cutout'])
def test_every_op_is_its_public_draw_replayed_with_the_primitive(name):
  out, replay = _replayed(name)
  np.testing.assert_allclose(out[0], replay[0], rtol=1e-6)
  np.testing.assert_allclose(out[1], replay[1], rtol=1e-6)


@pytest.mark.parametrize('name', ['cutmix', 'mixup', 'fmix', 'resizemix', 'saliencymix'])
def test_draw_partners_gives_the_partners_of_every_op_with_the_same_key(name):
  draw_of = {
      'cutmix': cm.draw_cutmix,
      'mixup': cm.draw_mixup,
      'fmix': cm.draw_fmix,
      'resizemix': cm.draw_resizemix,
      'saliencymix': cm.draw_saliencymix,
  }
  np.testing.assert_array_equal(
      draw_of[name](_KEY, _IMAGES).pairing.permutation,
      cm.draw_partners(_KEY, _IMAGES).permutation,
  )
  mixed_labels = np.asarray(getattr(cm, name)(_KEY, _IMAGES, _LABELS)[1])
  partner = np.asarray(cm.draw_partners(_KEY, _IMAGES).permutation)
  for row, labels in enumerate(mixed_labels):  # mass only on the image and its partner
    assert set(np.flatnonzero(labels > 1e-6)) <= {row, partner[row]}


@pytest.mark.parametrize('partners', ['global', 'device'])
def test_cutout_under_pmap_cuts_other_holes_on_every_device(partners):
  devices = jax.local_device_count()
  assert devices == 8  # the suite runs with 8 host devices
  images = jnp.ones((devices * 2, 16, 16, 1))
  labels = cm.one_hot(jnp.arange(devices * 2) % 4, 4)
  cut = lambda k, x, y: cm.cutout(k, x, y, size=6, partners=partners, axis_name='i')
  split = lambda x: x.reshape((devices, -1) + x.shape[1:])
  pmapped = jax.pmap(cut, axis_name='i', in_axes=(None, 0, 0))
  holes = np.asarray(pmapped(_KEY, split(images), split(labels))[0]).reshape(images.shape) == 0
  distinct = {holes[i].tobytes() for i in range(len(holes))}
  assert len(distinct) > devices  # not the same holes repeated per device
  if partners == 'global':  # the holes of one device on the global batch
    single = np.asarray(cm.cutout(_KEY, images, labels, size=6)[0]) == 0
    np.testing.assert_array_equal(holes, single)


@pytest.mark.parametrize(
    'call, name',
    [
        (lambda: jax.jit(cm.cutmix)(_KEY, _IMAGES, jnp.arange(N), num_classes=N), 'num_classes'),
        (lambda: jax.jit(cm.cutout)(_KEY, _IMAGES, _LABELS, size=4), 'size'),
        (lambda: jax.jit(cm.cutmix)(_KEY, _IMAGES, _LABELS, per_example=True), 'per_example'),
    ],
)
def test_a_traced_argument_that_must_be_static_says_how(call, name):
  with pytest.raises(TypeError, match=rf"^{name} .*cannot be traced.*static_argnames='{name}'"):
    call()


@pytest.mark.parametrize(
    'settings, ignored',
    [
        (dict(method='fmix', per_example=True), 'per_example=True'),
        (dict(method='fmix', cutmix_minmax=(0.2, 0.8)), 'cutmix_minmax=(0.2, 0.8)'),
        (dict(method='fmix', switch_prob=0.5), 'switch_prob=0.5'),
        (dict(method='resizemix', alpha=0.5), 'alpha=0.5'),
        (dict(method='cutout', switch_prob=0.3), 'switch_prob=0.3'),
    ],
)
def test_a_setting_the_method_would_ignore_is_refused_naming_what_it_reads(settings, ignored):
  with pytest.raises(ValueError, match=rf"^method '{settings['method']}' would ignore .*it reads"):
    cm.MixConfig(**settings)
  try:
    cm.MixConfig(**settings)
  except ValueError as error:
    assert ignored in str(error) and '\n' not in str(error)
  cm.MixConfig(**{**settings, 'method': 'none'})  # the baseline switch works on any recipe


def test_for_method_resets_what_the_new_method_would_ignore():
  run = cm.MixConfig(method='cutmix', per_example=True, switch_prob=0.5, cutout_size=8)
  assert run.for_method('cutout').per_example is False
  assert run.for_method('cutout').cutout_size == 8
  assert run.for_method('cutmix', prob=0.3) == cm.MixConfig(
      method='cutmix', per_example=True, switch_prob=0.5, cutout_size=8, prob=0.3
  )


def test_draw_partners_never_self_pairs_every_image_with_another():
  batch = jnp.ones((16, 4, 4, 1))
  keys = jax.random.split(_KEY, 2000)
  partners = np.stack(
      [np.asarray(cm.draw_partners(k, batch, never_self=True).permutation) for k in keys[:200]]
  )
  assert not (partners == np.arange(16)).any()
  assert all(sorted(p) == list(range(16)) for p in partners)  # still a permutation
  counts = np.bincount(partners[:, 0], minlength=16)
  assert counts[0] == 0 and counts[1:].min() > 0  # any other image can be the partner
  plain = cm.draw_partners(_KEY, batch).permutation  # the default: the ops' own partners
  np.testing.assert_array_equal(plain, cm.draw_cutmix(_KEY, batch).pairing.permutation)


def test_mixup_per_example_draws_a_lam_per_image():
  draw = cm.draw_mixup(_KEY, _IMAGES, per_example=True)
  assert draw.lam.shape == (N,) and len(set(np.asarray(draw.lam).round(6))) == N
  mixed, mixed_labels = cm.mixup(_KEY, _IMAGES, _LABELS, per_example=True)
  partner = np.asarray(draw.pairing.permutation)
  lam = np.asarray(draw.lam)
  expected = lam[:, None, None, None] * _IMAGES + (1 - lam[:, None, None, None]) * _IMAGES[partner]
  np.testing.assert_allclose(mixed, expected, rtol=1e-5, atol=1e-6)
  moved = partner != np.arange(N)
  np.testing.assert_allclose(
      np.asarray(mixed_labels)[np.arange(N), np.arange(N)][moved], lam[moved], rtol=1e-5
  )
  config = cm.MixConfig(method='mixup', per_example=True)
  np.testing.assert_allclose(
      cm.mix_batch(_KEY, _IMAGES, _LABELS, config=config)[0].shape, _IMAGES.shape
  )


def test_a_resume_ignores_the_settings_that_neither_run_reads(tmp_path):
  import json

  import ml_collections

  from cutmix_jax.config import files
  from cutmix_jax.config import history
  from cutmix_jax.errors import UserError
  from cutmix_jax.training import train_loop

  def saved(method, **mix):  # a workdir's config.json, written before FMix had a spectrum
    fields = {f: v for f, v in files.as_json(files.section(cm.MixConfig(method=method))).items()}
    fields = {**{k: v for k, v in fields.items() if k != 'fmix_spectrum'}, **mix}
    (tmp_path / 'config.json').write_text(json.dumps({'mix': fields}))

  resume = lambda method: history.check_resume(
      ml_collections.ConfigDict({'mix': files.section(cm.MixConfig(method=method))}),
      str(tmp_path),
      10,
      False,
      print,
      unread=train_loop._unread_mix_fields,
  )
  saved('cutmix')
  resume('cutmix')  # FMix's new setting changes nothing for a CutMix run
  saved('fmix')
  with pytest.raises(UserError, match=r"mix.fmix_spectrum None -> 'official'"):
    resume('fmix')  # it does for an FMix run: refused, as any change of its settings


def test_float16_training_is_refused_in_one_line_that_says_to_use_bfloat16():
  from conftest import small_run_config

  from cutmix_jax.errors import UserError
  from cutmix_jax.training import run_config

  with pytest.raises(UserError, match=r"^dtype='float16' trains without loss scaling.*bfloat16"):
    run_config.check_config(small_run_config(dtype='float16'))
  run_config.check_config(small_run_config(dtype='bfloat16'))
