"""The mixing methods by name: how `mix_batch` calls each built-in op, and plug-in ops.

`METHODS` lists the built-in names ('none' mixes nothing); a name 'module.path:function' is
your own op (`resolve_method`). Every entry is called as
`apply_method(key, images, soft_labels, config, alpha, axis_name)` with a `MixConfig`.
"""

import importlib
from typing import Callable

import jax

from cutmix_jax.ops import baselines
from cutmix_jax.ops import cutmix as cutmix_lib
from cutmix_jax.ops import fourier_mix as fmix_lib
from cutmix_jax.ops import partners as partners_lib
from cutmix_jax.ops import resize_mix as resizemix_lib
from cutmix_jax.ops import saliency_mix as saliencymix_lib


def resolve_method(name: str) -> Callable:
  """Your own mixing op, named 'module.path:function': a function with the built-in ops'
  signature, `op(rng, images, labels, *, alpha, partners, axis_name) -> (images, labels)`.

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


def _cutmix_or_switch(rng, images, labels, config, alpha, axis_name):
  """CutMix, or with `switch_prob` Mixup instead (with its own `mixup_alpha`, if set)."""
  key_switch, key_mix = jax.random.split(rng)
  shared = dict(partners=config.partners, axis_name=axis_name)
  by_cutmix = lambda: cutmix_lib.cutmix(
      key_mix,
      images,
      labels,
      alpha=alpha,
      per_example=config.per_example,
      minmax=config.cutmix_minmax,
      correct_lam=config.correct_lam,
      **shared,
  )
  if config.switch_prob == 0.0:
    return by_cutmix()
  by_mixup = lambda: baselines.mixup(
      key_mix, images, labels, alpha=config.mixup_alpha or alpha, **shared
  )
  key_switch = partners_lib.step_key(key_switch, config.partners, axis_name)
  return jax.lax.cond(jax.random.uniform(key_switch) < config.switch_prob, by_mixup, by_cutmix)


# method -> how `mix_batch` calls it: (key, images, soft labels, config, alpha, axis_name)
_OPS = {
    'cutmix': _cutmix_or_switch,
    'mixup': lambda key, x, y, c, alpha, axis: baselines.mixup(
        key, x, y, alpha=alpha, partners=c.partners, axis_name=axis
    ),
    'cutout': lambda key, x, y, c, alpha, axis: baselines.cutout(
        key, x, y, size=c.cutout_size, partners=c.partners, axis_name=axis
    ),
    'fmix': lambda key, x, y, c, alpha, axis: fmix_lib.fmix(
        key, x, y, alpha=alpha, decay_power=c.fmix_decay_power, partners=c.partners, axis_name=axis
    ),
    'resizemix': lambda key, x, y, c, alpha, axis: resizemix_lib.resizemix(
        key, x, y, scale=c.resizemix_scale, partners=c.partners, axis_name=axis
    ),
    'saliencymix': lambda key, x, y, c, alpha, axis: saliencymix_lib.saliencymix(
        key, x, y, alpha=alpha, partners=c.partners, axis_name=axis
    ),
}

METHODS = ('none', *_OPS)  # built in


def apply_method(rng, images, labels, config, alpha, axis_name):
  """The mix of `config.method`; keys are folded per device by the ops themselves where the
  partners or the holes are drawn per device."""
  if config.method in _OPS:
    return _OPS[config.method](rng, images, labels, config, alpha, axis_name)
  op = resolve_method(config.method)
  return op(rng, images, labels, alpha=alpha, partners=config.partners, axis_name=axis_name)[:2]
