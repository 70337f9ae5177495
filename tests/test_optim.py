"""The optimiser and schedule: the official code's SGD update and the paper's step schedule."""

import logging

from conftest import small_run_config
import jax.numpy as jnp
import numpy as np
import optax
import pytest

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
