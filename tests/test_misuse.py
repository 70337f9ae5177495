"""A researcher's walk through the functional API: each misuse stops in one line or behaves as
documented, and the common case (timm's `Mixup`) is one object and one call (`cm.Mixer`)."""

import json
import subprocess
import sys

from conftest import small_run_config
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cutmix_jax as cm
from cutmix_jax.config import files
from cutmix_jax.config import history
from cutmix_jax.config import workdir_files
from cutmix_jax.evaluation import workdir as workdir_lib

N, H, W, K = 8, 16, 16, 4
_KEY = jax.random.key(0)
_IMAGES = jax.random.normal(jax.random.key(1), (N, H, W, 3))
_IDS = jnp.arange(N) % K
REPO = __import__('os').path.dirname(__import__('os').path.dirname(__file__))


def test_float_class_ids_must_be_whole_numbers():
  with pytest.raises(ValueError, match=r'^labels \(N,\) are class ids, and 2.7 is not a whole'):
    cm.cutmix(_KEY, _IMAGES, _IDS.astype(jnp.float32).at[2].set(2.7), num_classes=K)
  with pytest.raises(ValueError, match=r'^labels \(N,\) are class ids, and 1.5 is not a whole'):
    cm.one_hot(jnp.array([0.0, 1.5]), K)
  # Whole floats are class ids: the same mix as integers, every row summing to 1.
  as_float = cm.cutmix(_KEY, _IMAGES, _IDS.astype(jnp.float32), num_classes=K)[1]
  np.testing.assert_array_equal(as_float, cm.cutmix(_KEY, _IMAGES, _IDS, num_classes=K)[1])
  # Traced, a fraction cannot raise: its row is NaN (which no loss survives), the others not.
  targets = jax.jit(lambda ids: cm.one_hot(ids, K))(jnp.array([0.0, 2.7, 3.0]))
  assert np.isnan(targets[1]).all() and np.isfinite(np.asarray(targets)[[0, 2]]).all()
  mixed = jax.jit(lambda ids: cm.mixup(_KEY, _IMAGES, ids, num_classes=K)[1])(
      _IDS.astype(jnp.float32).at[2].set(2.7)
  )
  assert np.isnan(mixed).any()


def test_arguments_that_must_be_static_say_so():
  with pytest.raises(TypeError, match=r"^minmax decides shapes .* static_argnames='minmax'"):
    jax.jit(cm.cutmix)(_KEY, _IMAGES, cm.one_hot(_IDS, K), minmax=(0.2, 0.8))
  with pytest.raises(TypeError, match=r"^num_classes decides shapes .*'num_classes'"):
    jax.jit(cm.cutmix)(_KEY, _IMAGES, _IDS, num_classes=K)
  # A string cannot reach our code under jit; JAX's own error names it and static_argnames
  # (the documented behaviour).
  with pytest.raises(TypeError, match=r'(?s)path mode.*static_argnames'):
    jax.jit(cm.cutmix)(_KEY, _IMAGES, cm.one_hot(_IDS, K), mode='elem')
  # A MixConfig (and a Mixer) is static as it is: an argument of a jitted function works.
  config = cm.MixConfig(method='fmix', prob=0.7)
  jitted = jax.jit(cm.mix_batch)(_KEY, _IMAGES, cm.one_hot(_IDS, K), config=config)
  closed = jax.jit(lambda k, x, y: cm.mix_batch(k, x, y, config=config))(
      _KEY, _IMAGES, cm.one_hot(_IDS, K)
  )
  for a, b in zip(jitted, closed):
    np.testing.assert_array_equal(a, b)


def test_cutout_has_the_configs_default_size():
  default = cm.MixConfig().settings_of('cutout').size
  assert default == 16
  holed = cm.cutout(_KEY, _IMAGES, _IDS, num_classes=K)[0]
  np.testing.assert_array_equal(holed, cm.cutout(_KEY, _IMAGES, _IDS, num_classes=K, size=16)[0])
  assert cm.draw_cutout(_KEY, _IMAGES).box[0].shape == (N,)


def test_switch_prob_is_timms_name_only_and_the_old_setting_says_its_new_name(tmp_path):
  # config.mix.cutmix.mixup_prob is P(Mixup); timm's switch_prob (P(CutMix)) is Mixer's.
  with pytest.raises(
      ValueError,
      match=r'^config.mix.cutmix.switch_prob is no setting of cutmix \(renamed mixup_prob\)',
  ):
    cm.MixConfig(sections={'cutmix': {'switch_prob': 0.3}})
  # A workdir written before the rename still evaluates and resumes: its config.json is read
  # with the field under its new name, the same value.
  (tmp_path / 'config.json').write_text(
      json.dumps({'mix': {'cutmix': {'switch_prob': 0.3, 'mode': 'batch'}, 'method': 'cutmix'}})
  )
  config = workdir_lib.load_config(str(tmp_path), {})
  assert config.mix.cutmix.mixup_prob == 0.3 and 'switch_prob' not in config.mix.cutmix
  assert workdir_files.upgraded({'mix': {'method': 'none'}})['mix'] == {'method': 'none'}
  # On the command line, the old flag names the new one.
  out = subprocess.run(
      [sys.executable, 'train.py', '--config.mix.cutmix.switch_prob=0.3', f'--workdir={tmp_path}'],
      cwd=REPO,
      capture_output=True,
      text=True,
      check=False,
  )
  assert out.returncode != 0
  assert (
      out.stderr.strip()
      .splitlines()[-1]
      .endswith('has no such field; did you mean --config.mix.cutmix.mixup_prob?')
  )


def _is_cutmix(mixed):
  """Whether every mixed image is a paste (each pixel its own or its partner's) rather than a
  blend: a pixel of a blend equals neither."""
  return bool(np.all(np.isin(np.asarray(mixed), np.asarray(_IMAGES))))


def test_mixer_is_timms_mixup_in_one_call():
  deit = cm.Mixer(
      mixup_alpha=0.8, cutmix_alpha=1.0, switch_prob=0.5, label_smoothing=0.1, num_classes=K
  )
  assert hash(deit) == hash(dataclass_copy(deit)) and deit == dataclass_copy(deit)
  # The MixConfig it runs: CutMix, switching to Mixup (alpha 0.8) with P = 1 - switch_prob.
  cutmix = deit.config.settings_of('cutmix')
  assert deit.config.method == 'cutmix' and deit.config.alpha == 1.0
  assert (cutmix.mixup_prob, cutmix.mixup_alpha) == (0.5, 0.8)
  # timm's meaning of switch_prob: 1 is always CutMix, 0 always Mixup.
  for switch, pasted in ((1.0, True), (0.0, False)):
    mixer = jax.jit(cm.Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, switch_prob=switch, num_classes=K))
    for seed in range(4):
      assert _is_cutmix(mixer(jax.random.key(seed), _IMAGES, _IDS)[0]) == pasted
  # timm's smoothing: off = s / K, on = 1 - s + s / K, before mixing (so rows sum to 1).
  targets = cm.Mixer(mixup_alpha=1.0, prob=0.0, num_classes=K)(_KEY, _IMAGES, _IDS)[1]
  np.testing.assert_allclose(
      targets, np.where(np.eye(K)[np.asarray(_IDS)] > 0, 1 - 0.1 + 0.1 / K, 0.1 / K), rtol=1e-6
  )
  # One call, as mix_batch on its config with smoothed one-hot targets; and under jit.
  soft = cm.one_hot(_IDS, K, smoothing=0.1)
  expected = cm.mix_batch(_KEY, _IMAGES, soft, config=deit.config)
  for got in (deit(_KEY, _IMAGES, _IDS), jax.jit(deit)(_KEY, _IMAGES, _IDS)):
    for a, b in zip(got, expected):
      np.testing.assert_allclose(a, b, rtol=1e-6)
  assert cm.Mixer(cutmix_alpha=1.0, mixup_alpha=0.0, num_classes=K).config.method == 'cutmix'
  assert cm.Mixer(num_classes=K).config.method == 'mixup'  # timm's defaults: Mixup alone


@pytest.mark.parametrize(
    'kwargs, message',
    [
        (dict(mixup_alpha=0.0, num_classes=K), r'^Mixer mixes nothing: set mixup_alpha > 0'),
        (dict(switch_prob=1.5, num_classes=K), r'^switch_prob must be in \[0, 1\]; got 1.5'),
        (dict(label_smoothing=1.0, num_classes=K), r'^label smoothing must be in \[0, 1\)'),
        (dict(num_classes=0), r'^num_classes must be a positive integer; got 0'),
        (dict(mode='each', num_classes=K), r"^config.mix.mixup: unknown mode 'each'"),
        (dict(cutmix_alpha=-1.0, num_classes=K), r'^cutmix_alpha must be >= 0 \(0: off\)'),
    ],
)
def test_mixer_refuses_bad_settings_in_one_line(kwargs, message):
  with pytest.raises(ValueError, match=message):
    cm.Mixer(**kwargs)


def test_mixer_refuses_soft_targets_of_another_class_count():
  with pytest.raises(ValueError, match=r'^soft targets of shape \(8, 3\) have 3 classes; this'):
    cm.Mixer(num_classes=K)(_KEY, _IMAGES, jnp.ones((N, 3)) / 3)


def dataclass_copy(mixer):
  return __import__('dataclasses').replace(mixer)


def test_a_workdir_from_before_the_new_optimizer_fields_resumes_unchanged(tmp_path):
  # A config.json written before `optimizer.name`, `schedule`, `min_learning_rate` and `betas`
  # existed ran the values that they default to: a resume sees no change of the run.
  config = small_run_config()
  saved = files.as_json(config)
  for key in ('name', 'schedule', 'min_learning_rate', 'betas'):
    del saved['optimizer'][key]
  (tmp_path / 'config.json').write_text(json.dumps(saved))
  assert history.check_resume(config, str(tmp_path), 2, allow_change=False) is None
  config.optimizer.name = 'adamw'
  with pytest.raises(history.ConfigChangeError, match="optimizer.name 'sgd' -> 'adamw'"):
    history.check_resume(config, str(tmp_path), 2, allow_change=False)
