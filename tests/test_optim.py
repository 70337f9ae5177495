"""The optimisers and schedules: the official SGD and step schedule, DeiT's AdamW and cosine."""

import logging

from conftest import small_run_config
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cutmix_jax import models
from cutmix_jax.training import optim
from cutmix_jax.training import run_config


def _optimizer(**fields):
  """The optimizer settings with the paper's CIFAR values, then `fields`."""
  return optim.OptimizerConfig(
      **{'learning_rate': 0.25, 'decay_epochs': (150, 225), 'weight_decay': 1e-4, **fields}
  )


def test_defaults_are_the_official_sgd():
  opt = optim.OptimizerConfig()
  assert (opt.momentum, opt.nesterov, opt.weight_decay, opt.decay_factor) == (0.9, True, 1e-4, 0.1)


@pytest.mark.parametrize(
    'fields, message',
    [
        ({'learning_rate': 0.0}, 'learning_rate=0.0 must be > 0'),
        ({'warmup_epochs': 10, 'decay_epochs': (5,)}, r'decay_epochs=\(5,\) must all come after'),
        ({'name': 'adam'}, "name='adam' is not valid; choose one of: sgd, adamw"),
        ({'schedule': 'linear'}, "schedule='linear' is not valid; choose one of: step, cosine"),
        ({'schedule': 'cosine', 'decay_epochs': (5,)}, "is for schedule='step'; cosine has none"),
        ({'betas': (0.9, 1.0)}, r'betas=\(0.9, 1.0\) must be two numbers in \[0, 1\)'),
        ({'min_learning_rate': 1.0}, r'must be in \[0, learning_rate\]'),
    ],
)
def test_bad_settings_name_the_field(fields, message):
  with pytest.raises(ValueError, match=message):
    optim.OptimizerConfig(**fields)


def test_step_schedule_boundaries_are_in_epochs():
  schedule = optim.learning_rate_schedule(_optimizer(), 64, steps_per_epoch=10)
  values = {step: float(schedule(step)) for step in (0, 1499, 1500, 2249, 2250, 2999)}
  assert values == pytest.approx(
      {0: 0.25, 1499: 0.25, 1500: 0.025, 2249: 0.025, 2250: 0.0025, 2999: 0.0025}
  )


def test_warmup_and_linear_scaling_rule():
  opt = _optimizer(learning_rate=0.1, reference_batch_size=256, warmup_epochs=5, decay_epochs=(75,))
  schedule = optim.learning_rate_schedule(opt, 1024, steps_per_epoch=100)
  assert optim.scaled_learning_rate(opt, 1024) == pytest.approx(0.4)
  # Linear from peak / 500 at step 0 to the peak at step 500, then the step schedule.
  expected = {0: 0.4 / 500, 250: 0.4 / 500 + (0.4 - 0.4 / 500) / 2, 500: 0.4, 7499: 0.4, 7500: 0.04}
  for step, value in expected.items():
    assert float(schedule(step)) == pytest.approx(value, rel=1e-5, abs=1e-7), step


def test_update_is_torch_sgd_with_nesterov_and_coupled_weight_decay():
  # torch.optim.SGD(lr, momentum, nesterov=True, weight_decay): d = g + wd * w;
  # buf = m * buf + d; w -= lr * (d + m * buf). Re-stated in NumPy over three steps.
  lr, momentum, wd = 0.25, 0.9, 1e-4
  tx = optim.make_optimizer(_optimizer(), optim.learning_rate_schedule(_optimizer(), 64, 10))
  weights = jnp.array([1.0, -2.0, 3.0])
  state = tx.init(weights)
  expected, buffer = np.array([1.0, -2.0, 3.0]), np.zeros(3)
  for grad in ([0.5, 0.1, -0.3], [0.2, -0.4, 0.1], [-0.1, 0.3, 0.2]):
    updates, state = tx.update(jnp.array(grad), state, weights)
    weights = optax.apply_updates(weights, updates)
    d = np.array(grad) + wd * expected
    buffer = momentum * buffer + d
    expected = expected - lr * (d + momentum * buffer)
  np.testing.assert_allclose(weights, expected, rtol=1e-6)


def test_a_decay_past_the_end_of_training_is_warned_about(caplog):
  config = small_run_config(num_epochs=3, **{'optimizer.decay_epochs': (2, 5)})
  with caplog.at_level(logging.WARNING):
    run_config.check_config(config)
  assert 'decay_epochs=(2, 5): [5] at or past the end of training (num_epochs=3)' in caplog.text


def test_cosine_schedule_warms_up_then_ends_at_its_floor():
  opt = optim.OptimizerConfig(
      schedule='cosine', learning_rate=1e-3, warmup_epochs=2, min_learning_rate=1e-5
  )
  schedule = optim.learning_rate_schedule(opt, 128, steps_per_epoch=10, total_steps=120)
  assert float(schedule(0)) == pytest.approx(1e-3 / 20)  # linear from lr / warm-up steps
  assert float(schedule(20)) == pytest.approx(1e-3)  # the peak at the end of the warm-up
  assert float(schedule(70)) == pytest.approx((1e-3 + 1e-5) / 2, rel=1e-5)  # half-way down
  assert float(schedule(120)) == pytest.approx(1e-5, rel=1e-4)
  with pytest.raises(ValueError, match='needs more steps'):
    optim.learning_rate_schedule(opt, 128, steps_per_epoch=10, total_steps=20)


def test_adamw_is_torchs_with_decay_only_on_kernels_and_matrices():
  # One AdamW step from zero moments: m_hat = g and v_hat = g**2, so each parameter moves by
  # lr * (g / (|g| + eps) + wd * p), the decay term only where decayed (torch.optim.AdamW).
  lr, wd = 0.01, 0.05
  params = {
      'dense': {'kernel': jnp.full((2, 3), 2.0), 'bias': jnp.full((3,), 2.0)},
      'norm': {'scale': jnp.full((3,), 2.0)},
      'pos_embed': jnp.full((1, 5, 3), 2.0),
      'cls_token': jnp.full((1, 1, 3), 2.0),
  }
  grads = jax.tree.map(lambda p: jnp.full(p.shape, 0.5), params)
  opt = optim.OptimizerConfig(name='adamw', learning_rate=lr, weight_decay=wd)
  tx = optim.make_optimizer(opt, optax.constant_schedule(lr))
  updates, _ = tx.update(grads, tx.init(params), params)
  moved = jax.tree.map(lambda p, u: p + u, params, updates)
  adam = lr * 0.5 / (0.5 + 1e-8)
  np.testing.assert_allclose(moved['dense']['kernel'], 2.0 - adam - lr * wd * 2.0, rtol=1e-6)
  for unchanged in (moved['dense']['bias'], moved['norm']['scale'], moved['pos_embed'],
                    moved['cls_token']):  # fmt: skip
    np.testing.assert_allclose(unchanged, 2.0 - adam, rtol=1e-6)


def test_adamw_decays_what_timm_decays_in_deit3_small_layer_scales_excluded():
  # timm's `param_groups_weight_decay(model, wd, no_weight_decay_list=model.no_weight_decay())`
  # on deit3_small_patch16_224 (timm 1.0.31): 50 arrays of 21,912,576 values decayed, and 126 of
  # 146,920 not (biases, norms, the 24 LayerScale gammas, pos_embed, cls_token).
  model = models.get_model('deit3_small', 1000)
  params = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 224, 224, 3)))['params']
  leaves = jax.tree_util.tree_leaves_with_path(params)
  decayed = jax.tree_util.tree_leaves(optim.decayed_by_adamw(params))
  sizes = {True: [], False: []}
  for (path, leaf), is_decayed in zip(leaves, decayed):
    sizes[is_decayed].append(leaf.size)
    assert not (is_decayed and path[-1].key == 'gamma'), jax.tree_util.keystr(path)
  assert (len(sizes[True]), sum(sizes[True])) == (50, 21_912_576)
  assert (len(sizes[False]), sum(sizes[False])) == (126, 146_920)


def test_lamb_is_apexs_fused_lamb_clipped_with_trust_ratio_only_where_decayed():
  # One step from zero moments: the gradients (global norm 4) are clipped to norm 1, Adam's step
  # is g / (|g| + 1e-6); a decayed leaf adds wd * p and is scaled by |p| / |update| (apex
  # FusedLAMB, use_nvlamb=False); a leaf without decay moves by lr * Adam's step alone.
  lr, wd = 0.01, 0.05
  params = {'dense': {'kernel': jnp.arange(1.0, 7.0).reshape(2, 3), 'bias': jnp.full((3,), 2.0)}}
  grads = {'dense': {'kernel': jnp.full((2, 3), 1.5), 'bias': jnp.array([-0.5, 0.5, -0.5])}}
  norm = np.sqrt(6 * 1.5**2 + 3 * 0.5**2)
  opt = optim.OptimizerConfig(name='lamb', learning_rate=lr, weight_decay=wd)
  tx = optim.make_optimizer(opt, optax.constant_schedule(lr))
  updates, _ = tx.update(grads, tx.init(params), params)
  kernel = np.arange(1.0, 7.0).reshape(2, 3)
  clipped = 1.5 / norm
  step = clipped / (clipped + 1e-6) + wd * kernel
  trust = np.linalg.norm(kernel) / np.linalg.norm(step)
  np.testing.assert_allclose(updates['dense']['kernel'], -lr * trust * step, rtol=1e-5)
  bias_step = np.array([-1.0, 1.0, -1.0]) * (0.5 / norm) / (0.5 / norm + 1e-6)
  np.testing.assert_allclose(updates['dense']['bias'], -lr * bias_step, rtol=1e-5)
