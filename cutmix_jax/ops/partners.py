"""Who mixes with whom: the partner of every example, on one device or across many.

`partners='global'` is the paper: one random permutation of the whole (global) batch, and one lam
and box for it, whatever the number of devices. `partners='device'` draws them separately within
each device's share of the batch: no data moves between devices, but with a small per-device
batch an image is more often its own partner and "one box per batch" becomes one per device.

The same call serves three ways of running:
- plain `jax.jit` on one device, or over a mesh with the batch sharded along it (Auto or Explicit
  axes): the arrays are the global batch. 'device' groups the batch by shard, read from the
  sharding of the array (Explicit axes) or from the mesh of `jax.set_mesh` (Auto axes: the
  devices of the whole mesh are taken to share the batch), so the partner gather stays on each
  device; 'global' gathers across shards;
- `jax.pmap` or `jax.shard_map` with `axis_name`: the arrays are one device's share. Pass the
  same key on every device: 'global' gathers the batch over the axis, 'device' folds the key with
  the device's index.
"""

import dataclasses
import math
from typing import Optional

import jax
import jax.numpy as jnp

PARTNERS = ('global', 'device')
MODES = ('batch', 'pair', 'elem')  # one lam (and box) per batch, per pair of partners, per image


def check_mode(mode: str) -> None:
  if mode not in MODES:
    raise ValueError(f'unknown mode {mode!r}; valid modes: {", ".join(MODES)}')


def check_partners(partners: str) -> None:
  if partners not in PARTNERS:
    raise ValueError(f'unknown partners {partners!r}; valid: {", ".join(PARTNERS)}')


def step_key(rng, partners: str, axis_name: Optional[str]):
  """The key every draw of a mixing call derives from: per device for 'device' under an axis."""
  if partners == 'device' and axis_name is not None:
    return jax.random.fold_in(rng, jax.lax.axis_index(axis_name))
  return rng


def _explicit_sharding(x):
  """The NamedSharding carried by the type of `x` under Explicit mesh axes, else None."""
  typeof = getattr(jax, 'typeof', None)
  sharding = getattr(typeof(x), 'sharding', None) if typeof else None
  spec = getattr(sharding, 'spec', None)
  if not spec or spec[0] is None:
    return None
  return sharding


def _shard_groups(x) -> int:
  """How many devices share the batch (leading) axis of the global array `x` under jit."""
  sharding = _explicit_sharding(x)
  if sharding is not None:
    axes = sharding.spec[0] if isinstance(sharding.spec[0], tuple) else (sharding.spec[0],)
    return math.prod(sharding.mesh.shape[a] for a in axes)
  get_mesh = getattr(jax.sharding, 'get_abstract_mesh', None)
  mesh = get_mesh() if get_mesh else None
  return mesh.size if mesh is not None and mesh.shape else 1


@dataclasses.dataclass(frozen=True)
class Pairing:
  """The partners of the rows of a batch, and how to fetch their values.

  Attributes:
    permutation: `(n,)` int32, the partner of each row of this call's batch, as an index into
      the batch the draw covers (the global batch for 'global', this device's for 'device').
    rows: `(n,)` int32, the index of each row of this call's batch in that batch.
    size: the number of examples that batch holds.
    axis_name: with 'global' partners under `pmap` / `shard_map`, the axis to gather over.
    groups: with 'device' partners under `jit`, the number of shards the batch is grouped by.
    identity: every row is its own partner (`themselves`).
    lead: with 'global' partners under `pmap` / `shard_map`, the partner of the global
      batch's first row (`first_partner`).
    lower: with pairs (`pair_up(pairs=True)`), `(size,)`: the lower index of each row's pair in
      the drawn batch (`shared`).
  """

  permutation: jax.Array
  rows: jax.Array
  size: int
  axis_name: Optional[str] = None
  groups: int = 1
  identity: bool = False
  lead: Optional[jax.Array] = None
  lower: Optional[jax.Array] = None

  @classmethod
  def themselves(cls, n: int) -> 'Pairing':
    """Every row its own partner (Cutout: nothing comes from another image)."""
    rows = jnp.arange(n, dtype=jnp.int32)
    return cls(rows, rows, n, identity=True)

  def take(self, values):
    """The partner's value for each row: `values` is `(n, ...)`, like this call's batch."""
    if self.identity:
      return values
    if self.axis_name is not None:
      every = jax.lax.all_gather(values, self.axis_name, tiled=True)
      return every[self.permutation]
    return self._gather(values, self.permutation)

  def _gather(self, values, index):
    """`values[index]` on the whole batch, within each shard's group when there are groups."""
    if self.groups > 1:
      n = values.shape[0]
      grouped = values.reshape((self.groups, n // self.groups) + values.shape[1:])
      local = (index % (n // self.groups)).reshape(self.groups, -1)
      local = local.reshape(local.shape + (1,) * (values.ndim - 1))
      return jnp.take_along_axis(grouped, local, axis=1).reshape(values.shape)
    sharding = _explicit_sharding(values)
    if sharding is not None:
      return values.at[index].get(out_sharding=sharding)
    return values[index]

  def first_partner(self, values):
    """The partner's value of the first row of the drawn batch (the global batch with
    'global' partners across devices): the same on every device."""
    if self.identity:
      return values[0]
    if self.axis_name is not None:
      return jax.lax.all_gather(values, self.axis_name, tiled=True)[self.lead]
    return values[self.permutation[0]]

  def shared(self, values):
    """Per-row draws `(size, ...)` of the drawn batch made one per pair (each row takes its
    pair's lower row's): unchanged without pairs."""
    if self.lower is None:
      return values
    return values[self.lower] if self.axis_name is not None else self._gather(values, self.lower)

  def local(self, values):
    """This call's rows of `values` `(size, ...)` drawn for the whole batch (lam or boxes)."""
    return values if self.axis_name is None else values[self.rows]


def axis_size(axis_name: str) -> int:
  """The number of devices along a `pmap` / `shard_map` axis (a Python int)."""
  size = getattr(jax.lax, 'axis_size', None)
  return size(axis_name) if size else jax.lax.psum(1, axis_name)


def _partner_indices(rng, n: int, never_self: bool, pairs: bool = False):
  """Each index's partner: a random permutation of `range(n)`; with `never_self` a random
  cycle through all of them (each index's partner is the next in the cycle: never itself when
  n > 1, and a uniform choice among the others); with `pairs` random pairs that are each other's
  partner (timm's `mode='pair'`; with n odd, one index is left to itself)."""
  order = jax.random.permutation(rng, n).astype(jnp.int32)
  if pairs:
    even = n - n % 2
    swapped = order[:even].reshape(-1, 2)[:, ::-1].reshape(-1)
    return jnp.zeros(n, jnp.int32).at[order].set(jnp.concatenate([swapped, order[even:]]))
  if not never_self:
    return order
  return jnp.zeros(n, jnp.int32).at[order].set(jnp.roll(order, -1))


def _lower(every):
  """The lower index of each pair, for partners `every` `(size,)` that are pairs."""
  return jnp.minimum(jnp.arange(every.shape[0], dtype=jnp.int32), every)


def pair_up(
    rng,
    batch,
    partners: str,
    axis_name: Optional[str],
    never_self: bool = False,
    pairs: bool = False,
) -> Pairing:
  """Draws the partners of this call's `batch` (an array `(n, ...)`) from key `rng`.

  `rng` is the key from `step_key`: the same on every device for 'global', folded for 'device'.
  Along an axis of one device, 'global' is 'device': nothing is gathered.
  """
  n = batch.shape[0]
  lower = _lower if pairs else lambda every: None
  if axis_name is not None and partners == 'global' and axis_size(axis_name) > 1:
    size = axis_size(axis_name)
    start = jax.lax.axis_index(axis_name) * n
    rows = start + jnp.arange(n, dtype=jnp.int32)
    every = _partner_indices(rng, n * size, never_self, pairs)
    return Pairing(every[rows], rows, n * size, axis_name, lead=every[0], lower=lower(every))
  rows = jnp.arange(n, dtype=jnp.int32)
  groups = _shard_groups(batch) if axis_name is None and partners == 'device' else 1
  if n % groups:
    raise ValueError(
        f'a batch of {n} cannot be split into the {groups} device shards that '
        "partners='device' draws within; use a multiple of it"
    )
  if groups == 1:
    every = _partner_indices(rng, n, never_self, pairs)
    return Pairing(every, rows, n, lower=lower(every))
  keys = jax.random.split(rng, groups)
  local = jax.vmap(lambda k: _partner_indices(k, n // groups, never_self, pairs))(keys)
  offsets = (jnp.arange(groups, dtype=jnp.int32) * (n // groups))[:, None]
  every = (local + offsets).reshape(n)
  return Pairing(every, rows, n, groups=groups, lower=lower(every))


def _manual_axes() -> tuple:
  """The `pmap` / `shard_map` axes of more than one device that the current trace is inside."""
  get_mesh = getattr(jax.sharding, 'get_abstract_mesh', None)
  mesh = get_mesh() if get_mesh else None
  manual = getattr(mesh, 'manual_axes', ()) if mesh is not None and mesh.shape else ()
  return tuple(axis for axis in manual if mesh.shape[axis] > 1)


def check_axis(axis_name: Optional[str]) -> None:
  """Raises ValueError in one line for a draw inside `pmap` / `shard_map` without `axis_name`:
  there the arrays are one device's share and every device holds the same key, so the draw
  would be neither the whole batch's ('global') nor each device's own ('device')."""
  manual = _manual_axes() if axis_name is None else ()
  if manual:
    names = ', '.join(repr(axis) for axis in manual)
    raise ValueError(
        f'a mixing op inside pmap / shard_map over {names} needs axis_name (the axis of the '
        f'batch, e.g. axis_name={manual[0]!r}): without it every device would draw the same '
        'partners and box for its own share; to mix a batch that each device holds whole, '
        'mix it outside'
    )


def draw_keys(rng, partners: str, axis_name: Optional[str]):
  """The three keys every mixing op draws from, in this order: its partners, its lam (or scale),
  the rest (box, mask). `draw_partners` takes the first, so it gives any op's partners."""
  check_partners(partners)
  check_axis(axis_name)
  return jax.random.split(step_key(rng, partners, axis_name), 3)


def local_keys(rng, batch, partners: str, axis_name: Optional[str]):
  """One key per row of this call's `batch`, as if drawn for the whole batch with 'global'
  partners (the same keys as a one-device call on the global batch), or per device."""
  n = batch.shape[0]
  check_axis(axis_name)
  if axis_name is None or partners != 'global':
    return jax.random.split(step_key(rng, partners, axis_name), n)
  every = jax.random.split(rng, n * axis_size(axis_name))
  return jax.lax.dynamic_slice_in_dim(every, jax.lax.axis_index(axis_name) * n, n)


def draw_partners(
    rng,
    batch,
    partners: str = 'global',
    axis_name: Optional[str] = None,
    *,
    never_self: bool = False,
    pairs: bool = False,
) -> Pairing:
  """The partners of a batch for `mask_mix.mix_by_mask` (or any mixing of your own).

  Args:
    rng: a `jax.random` key (the same on every device under `pmap` / `shard_map`).
    batch: any array `(n, ...)` of the batch (its images): its length, and under sharded `jit`
      its sharding, tell how the batch is laid out.
    partners: 'global' (one permutation of the whole batch, across devices) or 'device' (within
      each device's share).
    axis_name: the `pmap` / `shard_map` axis of the batch, if any.
    never_self: pair no image with itself (as timm's flip and torchvision's roll do, but drawn
      at random): each row's partner is the next in a random cycle through the batch (or the
      device's share, with 'device').
    pairs: random pairs of images that are each other's partner (what the ops draw with
      `mode='pair'`; with an odd count one image is left to itself).

  Returns:
    A `Pairing`: `pairing.take(values)` gives each row's partner's value; with the same key
    (and `never_self=False`), the partners every op of the package pairs the batch with (with
    `pairs=True`, those of `mode='pair'`).
  """
  key = draw_keys(rng, partners, axis_name)[0]
  return pair_up(key, batch, partners, axis_name, never_self, pairs)
