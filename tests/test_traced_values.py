"""Values out of range under `jit`: a concrete one raises one line, a traced one makes the labels
NaN (never a plausible wrong answer), and a valid traced one changes nothing."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cutmix_jax as cm
from cutmix_jax.data import folder
from cutmix_jax.data import loader
from cutmix_jax.data import source as source_lib

K = 4
_KEY = jax.random.key(0)
_IMAGES = jnp.asarray(np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3)), jnp.uint8)
_LABELS = jnp.arange(8) % K

_OPS = {
    'cutmix': cm.cutmix,
    'mixup': cm.mixup,
    'fmix': cm.fmix,
    'saliencymix': cm.saliencymix,
    'resizemix': cm.resizemix,
    'cutout': lambda key, x, y, **kw: cm.cutout(key, x, y, size=8, **kw),
    'mix_batch': lambda key, x, y, **kw: cm.mix_batch(key, x, y, config=cm.MixConfig(), **kw),
}
_WITH_ALPHA = ('cutmix', 'mixup', 'fmix', 'saliencymix', 'mix_batch')


def _nan_rows(labels) -> np.ndarray:
  return np.isnan(np.asarray(labels)).any(axis=1)


@pytest.mark.parametrize('name', sorted(_OPS))
def test_traced_labels_and_alpha_out_of_range_give_nan_labels_valid_ones_change_nothing(name):
  if name in _WITH_ALPHA:
    op = jax.jit(lambda y, a: _OPS[name](_KEY, _IMAGES, y, num_classes=K, alpha=a))
  else:
    op = jax.jit(lambda y, a: _OPS[name](_KEY, _IMAGES, y, num_classes=K))
  for bad in (99, -1):
    assert _nan_rows(op(_LABELS.at[3].set(bad), 0.7)[1])[3]  # and rows that took it as partner
  if name in _WITH_ALPHA:
    for alpha in (0.0, -1.0):
      assert _nan_rows(op(_LABELS, alpha)[1]).all()
  images, labels = op(_LABELS, 0.7)
  eager = op.__wrapped__(_LABELS, 0.7)  # the same op run eagerly: poisoning changed nothing
  np.testing.assert_array_equal(images, eager[0])
  np.testing.assert_allclose(labels, eager[1], rtol=1e-6)
  np.testing.assert_allclose(np.asarray(labels).sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize('prob', [1.5, -0.1])
def test_a_traced_prob_out_of_range_gives_nan_labels(prob):
  config = cm.MixConfig(prob=0.5)
  op = jax.jit(lambda p: cm.mix_batch(_KEY, _IMAGES, _LABELS, config=config, num_classes=K, prob=p))
  assert _nan_rows(op(prob)[1]).all()
  assert not _nan_rows(op(0.5)[1]).any()
  with pytest.raises(ValueError, match=r'prob must be in \[0, 1\]; got 1.5'):
    cm.mix_batch(_KEY, _IMAGES, _LABELS, config=config, num_classes=K, prob=1.5)


@pytest.mark.parametrize('value', [1.5, -0.5, float('nan')])
def test_a_float_mask_outside_0_1_raises_or_under_jit_gives_nan_labels(value):
  pairing = cm.draw_partners(_KEY, _IMAGES)
  mask = jnp.full((16, 16), value)
  with pytest.raises(ValueError, match=r'a float mask must be in \[0, 1\]'):
    cm.mix_by_mask(_IMAGES, _LABELS, mask, pairing, num_classes=K)
  jitted = jax.jit(lambda m: cm.mix_by_mask(_IMAGES, _LABELS, m, pairing, num_classes=K))
  assert _nan_rows(jitted(mask)[1]).all()
  assert not _nan_rows(jitted(jnp.full((16, 16), 0.25))[1]).any()


@pytest.mark.parametrize('weight', [2.0, -1.0])
def test_a_label_weight_outside_0_1_raises_or_under_jit_gives_nan_labels(weight):
  pairing = cm.draw_partners(_KEY, _IMAGES)
  mask = jnp.zeros((16, 16), bool).at[:4].set(True)
  mix = lambda w: cm.mix_by_mask(_IMAGES, _LABELS, mask, pairing, num_classes=K, weight=w)
  with pytest.raises(ValueError, match=r'weight must be in \[0, 1\]'):
    mix(weight)
  assert _nan_rows(jax.jit(mix)(weight)[1]).all()
  np.testing.assert_allclose(jax.jit(mix)(0.25)[1], mix(0.25)[1])


def test_an_integer_mask_is_refused_in_one_line():
  pairing = cm.draw_partners(_KEY, _IMAGES)
  with pytest.raises(ValueError, match='mask must be boolean .* or float .*got int32'):
    cm.mix_by_mask(_IMAGES, _LABELS, jnp.ones((16, 16), jnp.int32), pairing, num_classes=K)


# --- The host check of a run's labels ---------------------------------------------------------
def test_check_labels_names_the_file_or_the_example():
  files = folder.FileList(np.array(['a/0.png', 'b/7.png', 'b/8.png']), np.array([0, 2, 5]))
  with pytest.raises(ValueError, match=r'^train: b/7.png has label 2, outside \[0, 2\) \(2 such'):
    source_lib.check_labels(files, 2, 'train')
  with pytest.raises(ValueError, match=r'^stream: example 1 has label -1, outside \[0, 3\)$'):
    source_lib.check_labels(np.array([0, -1, 2]), 3, 'stream')
  source_lib.check_labels(np.array([0, 1, 2]), 3, 'fine')


def test_a_bad_label_in_a_folder_listing_stops_the_load_naming_the_file(tmp_path, monkeypatch):
  from PIL import Image

  for name in ('cat', 'dog'):
    (tmp_path / 'train' / name).mkdir(parents=True)
    for i in range(8):
      Image.new('RGB', (8, 8), (40 * i, 0, 0)).save(tmp_path / 'train' / name / f'{i}.png')
  real_scan = folder.scan

  def scan_with_a_bad_label(root):  # a listing whose label went wrong (a source's bug)
    class_names, train, evaluation = real_scan(root)
    labels = train.labels.copy()
    labels[9] = 7
    return class_names, folder.FileList(train.paths, labels), evaluation

  monkeypatch.setattr(folder, 'scan', scan_with_a_bad_label)
  config = loader.DataConfig(source=f'folder:{tmp_path}', holdout_per_class=1)
  with pytest.raises(ValueError, match=r'\(train\): .*dog/1.png has label 7, outside \[0, 2\)$'):
    loader.load_dataset(config, batch_size=8, eval_batch_size=8, seed=0)
