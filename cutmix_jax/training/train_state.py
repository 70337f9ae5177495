"""The train state: parameters, optimizer state and BatchNorm statistics, and its initialisation."""

from typing import Any

from flax.training import train_state
import jax
import jax.numpy as jnp


class TrainState(train_state.TrainState):
  """Flax TrainState plus the BatchNorm running statistics."""

  batch_stats: Any = None


def create_train_state(seed: int, model, image_shape, tx) -> TrainState:
  """Initialises parameters and BatchNorm statistics of `model` for `(H, W, C)` images.

  The init key is an 'rbg' key: with the default threefry, XLA compiles one random program per
  parameter and the init of a deep net takes minutes to compile on a CPU.
  """
  init_key = jax.random.key(seed, impl='rbg')
  init = jax.jit(lambda key: model.init(key, jnp.zeros((1,) + tuple(image_shape)), train=False))
  variables = init(init_key)
  return TrainState.create(
      apply_fn=model.apply,
      params=variables['params'],
      tx=tx,
      batch_stats=variables.get('batch_stats', {}),
  )
