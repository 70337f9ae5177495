"""One contract for every op: its draw reproduces exactly what it used, Cutout draws per device
like the others, arguments that must be static say so, and settings a method would ignore are
refused."""

import dataclasses

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


@dataclasses.dataclass(frozen=True)
class StripeSettings:
  """The settings of `stripes`, a plug-in registered with its own settings class and draw."""

  rows: int = 3

  def __post_init__(self):
    if not 0 < self.rows <= H:
      raise ValueError(f'rows must be in 1..{H}; got {self.rows}')


def draw_stripes(rng, images, *, alpha, partners, axis_name, rows=3):
  del alpha
  mask = jnp.broadcast_to(jnp.arange(images.shape[1])[:, None] < rows, images.shape[1:3])
  return cm.MixDraw(cm.draw_partners(rng, images, partners, axis_name), mask=mask)


@cm.register_method(settings=StripeSettings, draw=draw_stripes)
def stripes(rng, images, labels, *extras, alpha, partners, axis_name, rows=3):
  """The top `rows` rows from the partner."""
  draw = draw_stripes(rng, images, alpha=alpha, partners=partners, axis_name=axis_name, rows=rows)
  return cm.mix_by_mask(images, labels, draw.mask, draw.pairing, *extras)


REGISTERED = (*cm.METHODS[1:], 'test_contract:stripes')  # every built-in, and a plug-in


def _replayed(name):
  """`(op output, the same mix rebuilt from the method's draw with the primitive)`."""
  method = cm.get_method(name)
  settings = method.settings()
  draw = method.draw_with(_KEY, _IMAGES, settings)
  out = method.apply(
      _KEY, _IMAGES, _LABELS, (), settings, alpha=1.0, partners='global', axis_name=None
  )
  weight, partner_images = None, None
  if isinstance(draw, cm.CutMixDraw):
    mask = cm.box_mask(draw.box(H, W), H, W)
  elif draw.mask is not None:
    mask = draw.mask
  elif draw.box is not None:
    mask = _box_masks(draw.box, H, W) if jnp.ndim(draw.box[0]) else cm.box_mask(draw.box, H, W)
  else:  # a blend by lam (Mixup)
    mask, weight = jnp.full((H, W), 1.0 - draw.lam), 1.0 - draw.lam
  if draw.pairing.identity:  # Cutout: black pixels from nobody, the label kept
    weight, partner_images = 0.0, jnp.zeros_like(_IMAGES)
  if name == 'resizemix':  # the partner resized into the box, pasted there
    inside = np.asarray(mask)
    changed = np.asarray(out[0] != _IMAGES).any(axis=(0, 3))
    assert not changed[~inside].any()  # (the box may be empty: a clipped small tau)
    partner_images = out[0]
  replay = cm.mix_by_mask(
      _IMAGES, _LABELS, mask, draw.pairing, weight=weight, partner_images=partner_images
  )
  return out, replay


@pytest.mark.parametrize('name', REGISTERED)
def test_every_registered_method_is_its_draw_replayed_with_the_primitive(name):
  out, replay = _replayed(name)
  np.testing.assert_allclose(out[0], replay[0], rtol=1e-6)
  np.testing.assert_allclose(out[1], replay[1], rtol=1e-6)


def test_a_registered_plug_in_is_configured_by_its_own_settings_class():
  name = 'test_contract:stripes'
  assert cm.get_method(name).settings is StripeSettings
  config = cm.MixConfig(method=name, settings={'rows': 6})
  _, labels = cm.mix_batch(_KEY, _IMAGES, _LABELS, config=config)
  assert set(np.asarray(labels).max(axis=1).round(6)) <= {0.5, 1.0}  # 6 of 12 rows
  with pytest.raises(ValueError, match=r'^rows must be in 1\.\.12; got 0$'):
    cm.MixConfig(method=name, settings={'rows': 0})
  with pytest.raises(ValueError, match=r'has no setting cols; its settings: rows$'):
    cm.MixConfig(method=name, settings={'cols': 2})


def test_a_draw_that_does_not_cover_a_changed_setting_says_so():
  method = cm.get_method('cutmix')
  switched = method.settings(mixup_prob=0.5)
  with pytest.raises(ValueError, match=r"^the draw of 'cutmix' does not cover mixup_prob"):
    method.draw_with(_KEY, _IMAGES, switched)


def test_mode_pair_pairs_the_images_two_by_two_with_one_lam_and_box_a_pair():
  draw = cm.draw_cutmix(_KEY, _IMAGES, mode='pair')
  partner = np.asarray(draw.pairing.permutation)
  assert (partner[partner] == np.arange(N)).all() and (partner != np.arange(N)).all()
  np.testing.assert_array_equal(partner, cm.draw_partners(_KEY, _IMAGES, pairs=True).permutation)
  lam = np.asarray(draw.lam)
  assert (lam == lam[partner]).all() and len(set(lam)) == N // 2
  box = np.stack(draw.box(H, W))
  assert (box == box[:, partner]).all()
  _, labels = cm.cutmix(_KEY, _IMAGES, _LABELS, mode='pair')
  areas = np.asarray(cm.box_area_ratio(tuple(box), H, W))
  np.testing.assert_allclose(np.asarray(labels)[np.arange(N), partner], areas, rtol=1e-6)
  mixed, labels = cm.mixup(_KEY, _IMAGES, _LABELS, mode='pair')
  expected = lam[:, None, None, None] * _IMAGES + (1 - lam[:, None, None, None]) * _IMAGES[partner]
  np.testing.assert_allclose(mixed, expected, rtol=1e-5, atol=1e-6)


def test_cutmix_switch_per_image_mixes_each_image_by_cutmix_or_by_mixup():
  n = 64
  images = jax.random.uniform(jax.random.key(3), (n, H, W, 1))
  labels = cm.one_hot(jnp.arange(n), n)
  own = {'mode': 'elem', 'mixup_prob': 0.5}
  config = cm.MixConfig(method='cutmix', sections={'cutmix': own})
  mix = jax.jit(cm.mix_batch, static_argnames='config')
  mixed, mixed_labels = map(np.asarray, mix(_KEY, images, labels, config=config))
  x = np.asarray(images)
  kinds = []
  for i, row in enumerate(mixed_labels):
    if row[i] == 1.0:
      continue  # its own partner
    j = int(np.argmax(np.where(np.arange(n) == i, -1, row)))
    own_pixel, partner_pixel = mixed[i] == x[i], mixed[i] == x[j]
    if (own_pixel | partner_pixel).all():  # a CutMix paste
      kinds.append('cutmix')
      assert partner_pixel.mean() == pytest.approx(row[j], abs=1e-6)
    else:
      np.testing.assert_allclose(mixed[i], row[i] * x[i] + row[j] * x[j], rtol=1e-5, atol=1e-6)
      kinds.append('mixup')
  assert 0.25 < kinds.count('mixup') / len(kinds) < 0.75 and len(kinds) > n // 2


def test_several_methods_are_drawn_per_batch_by_their_weights():
  images = jnp.broadcast_to(jnp.arange(1.0, 5.0)[:, None, None, None], (4, 8, 8, 1))
  labels = cm.one_hot(jnp.arange(4), 4)
  config = cm.MixConfig(
      method='cutout,mixup', weights=(0.25, 0.75), sections={'cutout': {'size': 4}}
  )
  keys = jax.random.split(jax.random.key(0), 2000)
  mixed, _ = jax.jit(jax.vmap(lambda k: cm.mix_batch(k, images, labels, config=config)))(keys)
  cutout_share = float((np.asarray(mixed) == 0).any(axis=(1, 2, 3, 4)).mean())
  assert abs(cutout_share - 0.25) < 0.03  # binomial std 0.01 at 2000 draws
  with pytest.raises(ValueError, match=r'^weights=\(1.0,\) must give one probability'):
    cm.MixConfig(method='cutout,mixup', weights=(1.0,))


def test_a_field_of_no_method_or_section_is_refused_naming_the_fields():
  with pytest.raises(ValueError, match=r'^config.mix.cutout_size is no field of config.mix; '):
    cm.MixConfig.from_any({'method': 'cutout', 'cutout_size': 8})
  with pytest.raises(ValueError, match=r'^config.mix.fmix.decay is no setting of fmix; its '):
    cm.MixConfig.from_any({'method': 'fmix', 'fmix': {'decay': 2.0}})


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
    ],
)
def test_a_traced_argument_that_must_be_static_says_how(call, name):
  with pytest.raises(TypeError, match=rf"^{name} .*cannot be traced.*static_argnames='{name}'"):
    call()


@pytest.mark.parametrize(
    'settings, ignored',
    [
        (dict(method='fmix', sections={'mixup': {'mode': 'elem'}}), "mixup.mode='elem'"),
        (dict(method='fmix', sections={'cutmix': {'minmax': (0.2, 0.8)}}), 'minmax=(0.2, 0.8)'),
        (dict(method='fmix', sections={'cutmix': {'mixup_prob': 0.5}}), 'mixup_prob=0.5'),
        (dict(method='resizemix', alpha=0.5), 'alpha=0.5'),
        (dict(method='cutout', sections={'cutmix': {'mixup_prob': 0.3}}), 'mixup_prob=0.3'),
        (dict(method='cutmix', sections={'cutout': {'size': 8}}), 'cutout.size=8'),
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
  own = {'cutmix': {'mode': 'elem', 'mixup_prob': 0.5}}
  run = cm.MixConfig(method='cutmix', alpha=0.4, sections=own)
  cutout = run.for_method('cutout', cutout={'size': 8})
  assert cutout.sections['cutmix'] == cm.MixConfig().sections['cutmix'] and cutout.alpha == 1.0
  assert cutout.sections['cutout'].size == 8
  assert run.for_method('cutmix', prob=0.3) == cm.MixConfig(
      method='cutmix', alpha=0.4, sections=own, prob=0.3
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


def test_mixup_mode_elem_draws_a_lam_per_image():
  draw = cm.draw_mixup(_KEY, _IMAGES, mode='elem')
  assert draw.lam.shape == (N,) and len(set(np.asarray(draw.lam).round(6))) == N
  mixed, mixed_labels = cm.mixup(_KEY, _IMAGES, _LABELS, mode='elem')
  partner = np.asarray(draw.pairing.permutation)
  lam = np.asarray(draw.lam)
  expected = lam[:, None, None, None] * _IMAGES + (1 - lam[:, None, None, None]) * _IMAGES[partner]
  np.testing.assert_allclose(mixed, expected, rtol=1e-5, atol=1e-6)
  moved = partner != np.arange(N)
  np.testing.assert_allclose(
      np.asarray(mixed_labels)[np.arange(N), np.arange(N)][moved], lam[moved], rtol=1e-5
  )
  config = cm.MixConfig(method='mixup', sections={'mixup': {'mode': 'elem'}})
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

  def saved(method):  # a workdir's config.json, written before FMix had a spectrum
    fields = files.as_json(files.section(cm.MixConfig(method=method)))
    del fields['fmix']['spectrum']
    (tmp_path / 'config.json').write_text(json.dumps({'mix': fields}))

  resume = lambda method: history.check_resume(
      ml_collections.ConfigDict({'mix': files.section(cm.MixConfig(method=method))}),
      str(tmp_path),
      10,
      False,
      unread=train_loop._unread_mix_fields,
  )
  saved('cutmix')
  resume('cutmix')  # FMix's new setting changes nothing for a CutMix run
  saved('fmix')
  with pytest.raises(UserError, match=r"mix.fmix.spectrum None -> 'official'"):
    resume('fmix')  # it does for an FMix run: refused, as any change of its settings


def test_float16_training_is_refused_in_one_line_that_says_to_use_bfloat16():
  from conftest import small_run_config

  from cutmix_jax.errors import UserError
  from cutmix_jax.training import run_config

  with pytest.raises(UserError, match=r"^dtype='float16' trains without loss scaling.*bfloat16"):
    run_config.check_config(small_run_config(dtype='float16'))
  run_config.check_config(small_run_config(dtype='bfloat16'))
