"""The mixing methods by name: each is its op, its settings and its draw, registered once.

A `Method` is an op with the package's contract,
`op(rng, images, labels, *extras, alpha, partners, axis_name, num_classes=None, **settings)`
returning `(images, labels, *extras)`, the frozen dataclass of its own settings (a built-in's are
`config.mix.<name>`, a plug-in's `config.mix.settings`), the draw that gives what it used, and
whether it draws from `alpha`. The built-in methods are registered at the end of this module;
your own with `register_method`, or by naming it 'module.path:function' (its settings are then
its keyword-only parameters with defaults).

  @cm.register_method(settings=GridSettings, draw=draw_grid)
  def grid_mix(rng, images, labels, *extras, alpha, partners, axis_name, cells=4): ...

  cm.MixConfig(method='my_pkg.ops:grid_mix', settings={'cells': 8})
"""

import dataclasses
import importlib
import inspect
from typing import Any, Callable, Dict, Optional, Tuple

from cutmix_jax.ops import baselines
from cutmix_jax.ops import fourier_mix as fmix_lib
from cutmix_jax.ops import resize_mix as resizemix_lib
from cutmix_jax.ops import saliency_mix as saliencymix_lib
from cutmix_jax.ops import switching
from cutmix_jax.ops import transmix as transmix_lib

CALL_ARGUMENTS = ('alpha', 'partners', 'axis_name')  # what mix_batch passes every method


@dataclasses.dataclass(frozen=True)
class Method:
  """A mixing method (see the module docstring).

  Attributes:
    name: its name in `MixConfig.method`.
    op: the op.
    settings: the frozen dataclass of its own settings, each a keyword of `op`.
    draw: `draw(rng, images, *, alpha, partners, axis_name, **some settings)`, what `op`
      draws from the same key; None if it exposes none.
    uses_alpha: whether it draws from Beta(alpha, alpha) (Cutout and ResizeMix do not).
    relabel: for a method whose label weight comes from the model (TransMix), what gives the
      labels after the forward pass: `relabel(rng, images, targets, mixed, attention, *,
      config, prob, axis_name)` (`cutmix_jax.ops.transmix.relabel`); None: the op's labels.
  """

  name: str
  op: Callable
  settings: type
  draw: Optional[Callable] = None
  uses_alpha: bool = True
  relabel: Optional[Callable] = None

  def _common(self, alpha, partners, axis_name) -> Dict[str, Any]:
    common = dict(partners=partners, axis_name=axis_name)
    return {**common, 'alpha': alpha} if self.uses_alpha else common

  def apply(self, rng, images, labels, extras, settings, *, alpha, partners, axis_name):
    """`op(rng, images, labels, *extras, ...)` with these settings, as a tuple (one array out:
    a tuple of it, which the plug-in check then reports as missing the labels)."""
    own = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    out = self.op(rng, images, labels, *extras, **self._common(alpha, partners, axis_name), **own)
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)

  def draw_with(self, rng, images, settings, *, alpha=1.0, partners='global', axis_name=None):
    """What `apply` with the same key and settings draws (`MixDraw` or `CutMixDraw`).

    Raises:
      ValueError: one line, if the method exposes no draw, or its draw does not cover a
        setting that is changed from its default.
    """
    if self.draw is None:
      raise ValueError(f'mix method {self.name!r} exposes no draw (register it with draw=...)')
    takes = inspect.signature(self.draw).parameters
    own = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    defaults = self.settings()
    uncovered = [n for n in own if n not in takes and own[n] != getattr(defaults, n)]
    if uncovered:
      raise ValueError(
          f'the draw of {self.name!r} does not cover {", ".join(uncovered)} (changed from the '
          'default): the op draws more than it gives'
      )
    own = {name: value for name, value in own.items() if name in takes}
    return self.draw(rng, images, **self._common(alpha, partners, axis_name), **own)


_REGISTERED: Dict[str, Method] = {}


def settings_from_signature(name: str, op: Callable) -> type:
  """The settings dataclass of a plug-in op: its keyword-only parameters with defaults, beside
  `CALL_ARGUMENTS` and `num_classes`.

  Raises:
    ValueError: one line, if its signature does not take `(rng, images, labels, *extras,
      alpha=..., partners=..., axis_name=...)`.
  """
  parameters = list(inspect.signature(op).parameters.values())
  positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
  any_keyword = any(p.kind == p.VAR_KEYWORD for p in parameters)
  names = {p.name for p in parameters}
  missing = [] if any_keyword else [a for a in CALL_ARGUMENTS if a not in names]
  if len(positional) != 3 or missing:
    raise ValueError(
        f'mix method {name!r}: its signature {inspect.signature(op)} does not take '
        '(rng, images, labels, *extras, alpha, partners, axis_name)'
        + (f'; it lacks {", ".join(missing)}' if missing else '')
    )
  hashable = lambda value: tuple(value) if isinstance(value, list) else value
  fields = [
      (p.name, Any, dataclasses.field(default=hashable(p.default)))
      for p in parameters
      if p.kind == p.KEYWORD_ONLY
      and p.name not in (*CALL_ARGUMENTS, 'num_classes')
      and p.default is not p.empty
  ]
  return dataclasses.make_dataclass(f'{op.__name__}_settings', fields, frozen=True)


def register_method(
    name: Optional[str] = None,
    *,
    settings: Optional[type] = None,
    draw: Optional[Callable] = None,
    uses_alpha: bool = True,
) -> Callable[[Callable], Callable]:
  """Registers an op as a mixing method (a decorator; the op is returned unchanged).

  Args:
    name: its name in `MixConfig.method`; default 'module.path:function', the name by which
      `train.py` imports it.
    settings: the frozen dataclass of its own settings; default: its keyword-only parameters
      with defaults (`settings_from_signature`).
    draw: what it draws from a key, as the built-ins' `draw_*` (see `Method`).
    uses_alpha: whether it takes `alpha` (a method that draws no lam from it: False).
  """

  def register(op: Callable) -> Callable:
    key = name or f'{op.__module__}:{op.__qualname__}'
    own = settings or settings_from_signature(key, op)
    _REGISTERED[key] = Method(key, op, own, draw, uses_alpha)
    return op

  return register


def get(name: str) -> Method:
  """The method named `name`: registered, or imported as 'module.path:function'.

  Raises:
    ValueError: one line: an unknown name (with the valid ones), a module that does not
      import, a missing function, or a signature that is not the contract.
  """
  if name in _REGISTERED:
    return _REGISTERED[name]
  if ':' not in name:
    plugins = [key for key in _REGISTERED if key not in BUILT_IN]
    raise ValueError(
        f'unknown mix method {name!r}; valid methods: {", ".join(METHODS)}, or your own op as '
        "'module.path:function'" + (f' (registered: {", ".join(plugins)})' if plugins else '')
    )
  module_name, _, attribute = name.partition(':')
  try:
    module = importlib.import_module(module_name)
  except ImportError as error:
    raise ValueError(f'mix method {name!r}: cannot import {module_name!r} ({error})') from None
  if name in _REGISTERED:  # the module registered it as it was imported
    return _REGISTERED[name]
  op = getattr(module, attribute, None)
  if not callable(op):
    raise ValueError(f'mix method {name!r}: {module_name} has no function {attribute!r}')
  return Method(name, op, settings_from_signature(name, op))


_BUILT_INS = (
    Method(
        'cutmix',
        switching.cutmix_or_mixup,
        switching.CutMixSettings,
        switching.draw_cutmix_or_mixup,
    ),
    Method('mixup', baselines.mixup, baselines.MixupSettings, baselines.draw_mixup),
    Method('cutout', baselines.cutout, baselines.CutoutSettings, baselines.draw_cutout, False),
    Method('fmix', fmix_lib.fmix, fmix_lib.FMixSettings, fmix_lib.draw_fmix),
    Method(
        'resizemix',
        resizemix_lib.resizemix,
        resizemix_lib.ResizeMixSettings,
        resizemix_lib.draw_resizemix,
        False,
    ),
    Method(
        'saliencymix',
        saliencymix_lib.saliencymix,
        saliencymix_lib.SaliencyMixSettings,
        saliencymix_lib.draw_saliencymix,
    ),
    Method(
        'transmix',
        switching.cutmix_or_mixup,
        transmix_lib.TransMixSettings,
        switching.draw_cutmix_or_mixup,
        relabel=transmix_lib.relabel,
    ),
)
BUILT_IN: Tuple[str, ...] = tuple(method.name for method in _BUILT_INS)  # each a config section
METHODS = ('none', *BUILT_IN)  # the built-in names ('none' mixes nothing)
_REGISTERED.update((method.name, method) for method in _BUILT_INS)
