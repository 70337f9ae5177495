"""The device axis of the pmapped steps, and pytrees moved onto and off the local devices."""

import flax
import jax
import numpy as np

AXIS = 'batch'  # the pmap axis name: gradients, metrics and BatchNorm statistics average over it


def replicate(tree):
  """Copies a pytree onto every local device, leading axis = device, for the pmapped steps."""
  return flax.jax_utils.replicate(tree)


def unreplicate(tree):
  """The first device's copy of a replicated pytree (leading axis = device), as NumPy arrays.

  Reads one shard per leaf, so only one copy crosses to the host.
  """

  def first_copy(x):
    shard = np.asarray(x.addressable_shards[0].data)
    return shard.reshape((-1,) + x.shape[1:])[0]

  return jax.tree.map(first_copy, tree)
