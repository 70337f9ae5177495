"""The mixing methods by name: how `mix_batch` calls each built-in op, and plug-in ops.

`METHODS` lists the built-in names ('none' mixes nothing); a name 'module.path:function' is
your own op (`resolve_method`). Every entry is called as
`apply_method(key, images, soft_labels, extras, config, alpha, axis_name)` with a `MixConfig`
and returns `(images, labels, *extras)`.

A plug-in op has the built-in ops' contract,
`op(rng, images, labels, *extras, alpha, partners, axis_name, **settings)`: its own settings are
the keyword-only parameters after those, with defaults, set by `MixConfig.settings`
(`--config.mix.settings="{'width': 8}"`). `check_plugin` traces it once, on a small batch,
when the config is checked, so that a mistake is one line before anything is written.
"""

import importlib
import inspect
from typing import Callable, Dict

import jax
import jax.numpy as jnp

from cutmix_jax.ops import baselines
from cutmix_jax.ops import cutmix as cutmix_lib
from cutmix_jax.ops import fourier_mix as fmix_lib
from cutmix_jax.ops import partners as partners_lib
from cutmix_jax.ops import resize_mix as resizemix_lib
from cutmix_jax.ops import saliency_mix as saliencymix_lib

PLUGIN_ARGUMENTS = ('alpha', 'partners', 'axis_name')  # what mix_batch passes every plug-in


def resolve_method(name: str) -> Callable:
  """Your own mixing op, named 'module.path:function' (see the module docstring).

  Raises:
    ValueError: one line, if the module does not import or has no such function.
  """
  module_name, _, attribute = name.partition(':')
  try:
    module = importlib.import_module(module_name)
  except ImportError as error:
    raise ValueError(f'mix method {name!r}: cannot import {module_name!r} ({error})') from None
  op = getattr(module, attribute, None)
  if not callable(op):
    raise ValueError(f'mix method {name!r}: {module_name} has no function {attribute!r}')
  return op


def plugin_settings(name: str, op: Callable) -> Dict[str, object]:
  """The settings of a plug-in op and their defaults: its keyword-only parameters with a default,
  beside `PLUGIN_ARGUMENTS`.

  Raises:
    ValueError: one line, if its signature does not take `(rng, images, labels, *extras,
      alpha=..., partners=..., axis_name=...)`.
  """
  parameters = list(inspect.signature(op).parameters.values())
  positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
  any_keyword = any(p.kind == p.VAR_KEYWORD for p in parameters)
  names = {p.name for p in parameters}
  missing = [] if any_keyword else [a for a in PLUGIN_ARGUMENTS if a not in names]
  if len(positional) != 3 or missing:
    raise ValueError(
        f'mix method {name!r}: its signature {inspect.signature(op)} does not take '
        '(rng, images, labels, *extras, alpha, partners, axis_name)'
        + (f'; it lacks {", ".join(missing)}' if missing else '')
    )
  return {
      p.name: p.default
      for p in parameters
      if p.kind == p.KEYWORD_ONLY and p.name not in PLUGIN_ARGUMENTS and p.default is not p.empty
  }


def check_plugin(name: str, settings: Dict[str, object]) -> None:
  """Traces plug-in op `name` once on a small float batch with `settings`.

  Raises:
    ValueError: one line naming the function and what is wrong: its signature, a setting it
      does not have, the exception it raised, or outputs unlike `(images, labels)`.
  """
  op = resolve_method(name)
  own = plugin_settings(name, op)
  unknown = sorted(set(settings) - set(own))
  if unknown:
    raise ValueError(
        f'mix method {name!r} has no setting {", ".join(unknown)}; its settings: '
        f'{", ".join(own) or "none"}'
    )
  images = jax.ShapeDtypeStruct((4, 16, 16, 3), jnp.float32)
  labels = jax.ShapeDtypeStruct((4, 10), jnp.float32)
  call = lambda key, x, y: op(
      key, x, y, alpha=1.0, partners='global', axis_name=None, **dict(settings)
  )
  try:
    out = jax.eval_shape(call, jax.random.key(0), images, labels)
  except Exception as error:  # pylint: disable=broad-except  (any mistake of the plug-in)
    message = str(error).strip().splitlines()[0] if str(error).strip() else ''
    raise ValueError(
        f'mix method {name!r} raised {type(error).__name__} on a (4, 16, 16, 3) float32 batch '
        f'with (4, 10) soft labels: {message}'
    ) from None
  expected = (images, labels)
  shapes = lambda values: [(tuple(v.shape), str(v.dtype)) for v in values]
  got = out if isinstance(out, (tuple, list)) else (out,)
  if len(got) < 2 or shapes(got[:2]) != shapes(expected):
    described = shapes(got) if all(hasattr(v, 'shape') for v in got) else type(out).__name__
    raise ValueError(
        f'mix method {name!r} returned {described}; expected (images, labels, *extras) '
        f'starting with {shapes(expected)}'
    )


def _cutmix_or_switch(rng, images, labels, extras, config, alpha, axis_name):
  """CutMix, or with `switch_prob` Mixup instead (with its own `mixup_alpha`, if set)."""
  key_switch, key_mix = jax.random.split(rng)
  shared = dict(partners=config.partners, axis_name=axis_name)
  by_cutmix = lambda: cutmix_lib.cutmix(
      key_mix,
      images,
      labels,
      *extras,
      alpha=alpha,
      per_example=config.per_example,
      minmax=config.cutmix_minmax,
      correct_lam=config.correct_lam,
      **shared,
  )
  if config.switch_prob == 0.0:
    return by_cutmix()
  by_mixup = lambda: baselines.mixup(
      key_mix, images, labels, *extras, alpha=config.mixup_alpha or alpha, **shared
  )
  key_switch = partners_lib.step_key(key_switch, config.partners, axis_name)
  return jax.lax.cond(jax.random.uniform(key_switch) < config.switch_prob, by_mixup, by_cutmix)


# method -> how `mix_batch` calls it: (key, images, soft labels, extras, config, alpha, axis)
_OPS = {
    'cutmix': _cutmix_or_switch,
    'mixup': lambda key, x, y, e, c, alpha, axis: baselines.mixup(
        key,
        x,
        y,
        *e,
        alpha=alpha,
        per_example=c.per_example,
        partners=c.partners,
        axis_name=axis,
    ),
    'cutout': lambda key, x, y, e, c, alpha, axis: baselines.cutout(
        key, x, y, *e, size=c.cutout_size, partners=c.partners, axis_name=axis
    ),
    'fmix': lambda key, x, y, e, c, alpha, axis: fmix_lib.fmix(
        key,
        x,
        y,
        *e,
        alpha=alpha,
        decay_power=c.fmix_decay_power,
        spectrum=c.fmix_spectrum,
        max_soft=c.fmix_max_soft,
        reformulate=c.fmix_reformulate,
        partners=c.partners,
        axis_name=axis,
    ),
    'resizemix': lambda key, x, y, e, c, alpha, axis: resizemix_lib.resizemix(
        key,
        x,
        y,
        *e,
        scale=c.resizemix_scale,
        placement=c.resizemix_placement,
        partners=c.partners,
        axis_name=axis,
    ),
    'saliencymix': lambda key, x, y, e, c, alpha, axis: saliencymix_lib.saliencymix(
        key,
        x,
        y,
        *e,
        alpha=alpha,
        per_example=c.per_example,
        partners=c.partners,
        axis_name=axis,
    ),
}

METHODS = ('none', *_OPS)  # built in


def apply_method(rng, images, labels, extras, config, alpha, axis_name):
  """The mix of `config.method`, `(images, labels, *extras)`; keys are folded per device by the
  ops themselves where the partners or the holes are drawn per device."""
  if config.method in _OPS:
    return _OPS[config.method](rng, images, labels, extras, config, alpha, axis_name)
  op = resolve_method(config.method)
  settings = dict(config.settings)
  return tuple(
      op(rng, images, labels, *extras, alpha=alpha, partners=config.partners,
         axis_name=axis_name, **settings)
  )  # fmt: skip
