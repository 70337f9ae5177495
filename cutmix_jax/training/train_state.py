"""The train state: parameters, optimizer state and BatchNorm statistics, and its initialisation."""

from typing import Any

from flax.training import train_state
import jax
import jax.numpy as jnp


class TrainState(train_state.TrainState):
  """Flax TrainState plus the BatchNorm running statistics."""

  batch_stats: Any = None


def create_train_state(seed: int, model, image_shape, tx) -> TrainState:
  """Initialises parameters, BatchNorm statistics and optimizer state of `model` for `(H, W, C)`
  images, in one compiled program.

  The init key is an 'rbg' key: with the default threefry, XLA compiles one random program per
  parameter and the init of a deep net takes minutes to compile on a CPU. The optimizer's state is
  made in the same program: made op by op, its zeros took one compile per parameter shape (329
  for PyramidNet-200, 11 s on a CPU).
  """

  def create():
    key = jax.random.key(seed, impl='rbg')
    variables = model.init(key, jnp.zeros((1,) + tuple(image_shape)), train=False)
    return TrainState.create(
        apply_fn=model.apply,
        params=variables['params'],
        tx=tx,
        batch_stats=variables.get('batch_stats', {}),
    )

  return jax.jit(create)()
