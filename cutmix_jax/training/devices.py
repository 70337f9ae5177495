"""Where the steps run: one device axis, and the two ways of mapping a per-device step over it.

Every step is written per device (one device's share of the batch, collectives over `AXIS`).
A `Placement` compiles it, puts the state and the batches onto the devices and reads values back:

- `MeshPlacement` (the default, `parallelism='mesh'`): `jax.jit` of `jax.shard_map` over a
  one-axis mesh spanning every device of every process. Batches are global arrays sharded
  `P(AXIS)`, built from each process's share; the state is a global array placed by one rule,
  `STATE_SPEC` (replicated: sharding a large model's parameters changes that rule alone).
- `PmapPlacement` (`parallelism='pmap'`): `jax.pmap` over the local devices, the state copied
  onto each with a leading device axis, as JAX's maintenance-mode API wants it.

Both run the same per-device program, on the same `B/D` rows of each batch, compiled with the
same options (`models.cpu_convolutions`): a seeded run trains and evaluates the same under
either, bit for bit. Batches reach a placement as the data layer gives them, this process's rows
`(B_local, ...)` as host arrays, and per-example outputs come back so.
"""

import collections
from typing import Callable, Iterable, Iterator, Sequence

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

from cutmix_jax.models import cpu_convolutions

AXIS = 'data'  # the device axis: gradients, metrics and BatchNorm statistics average over it
PARALLELISMS = ('mesh', 'pmap')
# Whose statistics training BatchNorm normalizes by: the whole global batch's, averaged over AXIS
# at every layer (the same training on any device count), or each device's share's (the official
# code's nn.DataParallel, whose replicas normalize their own shares).
BATCH_NORMS = ('global', 'device')

# What an argument of a per-device step is: the train state, a batch (one share per device) or
# a value that every device gets whole (a key, an index, a setting).
STATE, BATCH, WHOLE = 'state', 'batch', 'whole'

STATE_SPEC = P()  # the one sharding rule of the state's arrays: replicated over AXIS


class MeshPlacement:
  """Steps as `jax.jit` of `jax.shard_map` over a one-axis mesh of every device."""

  def __init__(self, mesh=None):
    self.mesh = mesh or jax.make_mesh((jax.device_count(),), (AXIS,))
    self._spec = {STATE: STATE_SPEC, BATCH: P(AXIS), WHOLE: P()}

  def compile(
      self, per_device: Callable, kinds: Sequence[str], rows_out: bool = False, donate=()
  ) -> Callable:
    """The jitted step; `kinds` says what each argument is; `rows_out` that its outputs are per
    example (else the same on every device, reduced over AXIS); `donate`: argument numbers."""
    mapped = jax.shard_map(
        per_device,
        mesh=self.mesh,
        in_specs=tuple(self._spec[kind] for kind in kinds),
        out_specs=P(AXIS) if rows_out else P(),
        # pmap's semantics: without it, the gradient of a replicated input would come summed
        # over the devices already, and the step's own pmean would scale it by the count.
        check_vma=False,
    )
    return cpu_convolutions.jit(mapped, donate_argnums=donate)

  def put_state(self, tree):
    """A host pytree as global arrays placed by `STATE_SPEC` (arrays placed so already, as a
    restored checkpoint's, are kept as they are)."""
    sharding = NamedSharding(self.mesh, STATE_SPEC)

    def put(leaf):
      if isinstance(leaf, jax.Array) and leaf.sharding == sharding:
        return leaf
      leaf = np.asarray(leaf)
      return jax.make_array_from_callback(leaf.shape, sharding, lambda index: leaf[index])

    return jax.tree.map(put, tree)

  def state_template(self, tree):
    """What a checkpoint restores a host pytree `tree` as: global arrays of its shapes and
    dtypes placed by `STATE_SPEC` (orbax reads each device's part, with no host copy)."""
    sharding = NamedSharding(self.mesh, STATE_SPEC)
    spec = lambda leaf: jax.ShapeDtypeStruct(
        np.shape(leaf), jnp.result_type(leaf), sharding=sharding
    )
    return jax.tree.map(spec, tree)

  def saved_state(self, state):
    """What a checkpoint saves of the placed `state`: its global arrays, with their sharding."""
    return state

  def put_batch(self, batch):
    """A host batch `(B_local, ...)` of this process as global arrays `(B, ...)` sharded over
    AXIS."""
    sharding = NamedSharding(self.mesh, P(AXIS))
    put = lambda leaf: jax.make_array_from_process_local_data(sharding, np.asarray(leaf))
    return jax.tree.map(put, batch)

  def first(self, tree):
    """Host NumPy values of a pytree that is the same on every device (the state, reduced
    outputs), one copy read."""
    return jax.tree.map(lambda leaf: np.asarray(leaf.addressable_shards[0].data), tree)

  def host_rows(self, values):
    """Per-example outputs of a step: this process's rows as host arrays `(B_local, ...)`."""

    def local(leaf):
      shards = sorted(leaf.addressable_shards, key=lambda shard: shard.index[0].start or 0)
      return np.concatenate([np.asarray(shard.data) for shard in shards])

    return jax.tree.map(local, values)


def _compiled_with(mapped: Callable, options: dict) -> Callable:
  """`mapped` (a `jax.pmap`, which takes no compile options) compiled with XLA's `options`,
  once for each structure, shape and dtype of its arguments."""
  compiled = {}

  def call(*args):
    leaves, structure = jax.tree.flatten(args)
    key = structure, tuple((np.shape(leaf), jnp.result_type(leaf)) for leaf in leaves)
    if key not in compiled:
      compiled[key] = mapped.lower(*args).compile(compiler_options=options)
    return compiled[key](*args)

  return call


class PmapPlacement:
  """Steps as `jax.pmap` over the local devices; the state copied onto each device."""

  _axis = {STATE: 0, BATCH: 0, WHOLE: None}

  def compile(
      self, per_device: Callable, kinds: Sequence[str], rows_out: bool = False, donate=()
  ) -> Callable:
    del rows_out  # pmap outputs carry the device axis either way
    in_axes = tuple(self._axis[kind] for kind in kinds)
    options = cpu_convolutions.compiler_options()
    traced = cpu_convolutions.traced_for(per_device, options)
    mapped = jax.pmap(traced, axis_name=AXIS, in_axes=in_axes, donate_argnums=donate)
    return _compiled_with(mapped, options) if options else mapped

  def __init__(self):
    local = jax.local_devices()
    self._rows = NamedSharding(jax.sharding.Mesh(np.array(local), (AXIS,)), P(AXIS))
    self._count = len(local)

  def put_state(self, tree):
    """A host pytree copied onto every local device (leading axis = device)."""
    copies = lambda leaf: np.broadcast_to(leaf, (self._count,) + np.shape(leaf))
    return jax.device_put(jax.tree.map(copies, tree), self._rows)

  def put_batch(self, batch):
    """A host batch `(B_local, ...)` as `(D_local, B/D, ...)` arrays, one row per local device
    (the layout `jax.pmap` maps over)."""
    rows = lambda leaf: np.asarray(leaf).reshape((self._count, -1) + np.shape(leaf)[1:])
    return jax.device_put(jax.tree.map(rows, batch), self._rows)

  def state_template(self, tree):
    """What a checkpoint restores a host pytree `tree` as: host arrays, as pmap's state is
    saved."""
    return tree

  def saved_state(self, state):
    """What a checkpoint saves of the placed `state`: one copy, on the host."""
    return self.first(state)

  def first(self, tree):
    """Host NumPy values of a pytree that is the same on every device (the state, reduced
    outputs): the first device's copy, one copy read."""
    return jax.tree.map(lambda leaf: np.asarray(leaf.addressable_shards[0].data)[0], tree)

  def host_rows(self, values):
    """Per-example outputs of a step as host arrays `(B_local, ...)`."""
    rows = lambda leaf: np.asarray(leaf).reshape((-1,) + leaf.shape[2:])
    return jax.tree.map(rows, values)


def placement(parallelism: str = 'mesh'):
  """The placement of `config.parallelism` ('mesh' or 'pmap')."""
  if parallelism not in PARALLELISMS:
    raise ValueError(f'parallelism={parallelism!r} is none of {", ".join(PARALLELISMS)}')
  return MeshPlacement() if parallelism == 'mesh' else PmapPlacement()


def prefetched(where, batches: Iterable, size: int = 2) -> Iterator:
  """The batches put onto the devices by the placement `where`, `size` batches ahead (their
  copies overlap the steps)."""
  queue = collections.deque()
  for batch in batches:
    queue.append(where.put_batch(batch))
    if len(queue) > size:
      yield queue.popleft()
  while queue:
    yield queue.popleft()
