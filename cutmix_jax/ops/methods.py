"""How `mix_batch` applies a config's method(s): one registered method, or one of several drawn
per batch, and the check that traces a plug-in once when its config is built."""

import functools
from typing import Tuple

import jax
import jax.numpy as jnp

from cutmix_jax.ops import detection
from cutmix_jax.ops import partners as partners_lib
from cutmix_jax.ops import registry


def unmixed(images, labels, extras) -> Tuple:
  """The batch as it is, in the structure a mix returns: boxes and keypoints gain the partner's
  slots, all invalid (a paste of an empty box), so that every branch of a draw matches."""
  itself = partners_lib.Pairing.themselves(images.shape[0])
  empty = (0, 0, 0, 0)
  kept = [
      detection.paste_geometric(extra, itself, empty) if detection.is_geometric(extra) else extra
      for extra in extras
  ]
  return (images, labels, *kept)


def check_plugin(method: registry.Method, settings) -> None:
  """Traces plug-in `method` once on a small float batch with its `settings`.

  Raises:
    ValueError: one line naming the function and what is wrong: the exception it raised, or
      outputs unlike `(images, labels)`.
  """
  images = jax.ShapeDtypeStruct((4, 16, 16, 3), jnp.float32)
  labels = jax.ShapeDtypeStruct((4, 10), jnp.float32)
  call = lambda key, x, y: method.apply(
      key, x, y, (), settings, alpha=1.0, partners='global', axis_name=None
  )
  try:
    out = jax.eval_shape(call, jax.random.key(0), images, labels)
  except Exception as error:  # pylint: disable=broad-except  (any mistake of the plug-in)
    message = str(error).strip().splitlines()[0] if str(error).strip() else ''
    raise ValueError(
        f'mix method {method.name!r} raised {type(error).__name__} on a (4, 16, 16, 3) float32 '
        f'batch with (4, 10) soft labels: {message}'
    ) from None
  expected = (images, labels)
  shapes = lambda values: [(tuple(v.shape), str(v.dtype)) for v in values]
  if (
      len(out) < 2
      or not all(hasattr(v, 'shape') for v in out)
      or (shapes(out[:2]) != shapes(expected))
  ):
    described = shapes(out) if all(hasattr(v, 'shape') for v in out) else type(out).__name__
    raise ValueError(
        f'mix method {method.name!r} returned {described}; expected (images, labels, *extras) '
        f'starting with {shapes(expected)}'
    )


def _apply_one(name, rng, images, labels, extras, config, alpha, axis_name):
  if name == 'none':
    return unmixed(images, labels, extras)
  return registry.get(name).apply(
      rng,
      images,
      labels,
      extras,
      config.settings_of(name),
      alpha=alpha,
      partners=config.partners,
      axis_name=axis_name,
  )


def apply_method(rng, images, labels, extras, config, alpha, axis_name):
  """The mix of `config.method`, `(images, labels, *extras)`: with several methods, one drawn
  per batch by `config.weights` (the same on every device with partners='global'). Keys are
  folded per device by the ops themselves where they draw per device."""
  names = config.methods
  if len(names) == 1:
    return _apply_one(names[0], rng, images, labels, extras, config, alpha, axis_name)
  key_choice, key_mix = jax.random.split(rng)
  key_choice = partners_lib.step_key(key_choice, config.partners, axis_name)
  weights = jnp.asarray(config.weights or (1.0,) * len(names), jnp.float32)
  index = jax.random.choice(key_choice, len(names), p=weights / jnp.sum(weights))
  branches = [
      functools.partial(_apply_one, name, key_mix, images, labels, extras, config, alpha, axis_name)
      for name in names
  ]
  return jax.lax.switch(index, branches)
