"""How a train step mixes each batch: `MixConfig`, the fields of `config.mix`, checked once."""

import dataclasses
from typing import Any, Mapping, Tuple

from cutmix_jax.ops import arguments
from cutmix_jax.ops import boxes
from cutmix_jax.ops import fourier_mix as fmix_lib
from cutmix_jax.ops import methods
from cutmix_jax.ops import partners as partners_lib
from cutmix_jax.ops import resize_mix as resizemix_lib

LEVELS = ('input', 'feature')  # where CutMix mixes: the images, or a random stage's features
# Settings that change how a method mixes: a method that does not read them (`_OWN`) refuses
# them when changed. The other methods' own sizes (cutout_size, fmix_*, resizemix_*) may stay
# set, so that a recipe can be switched to another method from the command line.
MODIFIERS = ('switch_prob', 'mixup_alpha', 'per_example', 'cutmix_minmax', 'correct_lam')
WITHOUT_ALPHA = ('cutout', 'resizemix')  # methods that draw no Beta(alpha, alpha)
_OWN = {  # the settings each method reads beside the common ones (a plug-in: alpha only)
    'cutmix': MODIFIERS,
    'cutout': ('cutout_size',),
    'fmix': ('fmix_decay_power', 'fmix_spectrum', 'fmix_max_soft', 'fmix_reformulate'),
    'resizemix': ('resizemix_scale', 'resizemix_placement'),
    'saliencymix': ('per_example',),
    'mixup': ('per_example',),
}


def unused_fields(method: str) -> Tuple[str, ...]:
  """The fields of `MixConfig` that `method` does not read: changing them changes nothing."""
  if method == 'none':
    return tuple(f.name for f in dataclasses.fields(MixConfig) if f.name != 'method')
  reads = {'method', 'prob', 'partners', 'level', 'off_after_epoch', *_OWN.get(method, ())}
  reads |= set() if method in WITHOUT_ALPHA else {'alpha'}
  reads |= {'settings'} if ':' in method else set()
  return tuple(f.name for f in dataclasses.fields(MixConfig) if f.name not in reads)


def _unread(method: str) -> dict:
  """The refusable settings that `method` does not read, with their defaults."""
  defaults = {f.name: f.default for f in dataclasses.fields(MixConfig)}
  unread = [name for name in MODIFIERS if name not in _OWN.get(method, ())]
  unread += ['alpha'] if method in WITHOUT_ALPHA else []
  return {name: defaults[name] for name in unread}


@dataclasses.dataclass(frozen=True)
class MixConfig:
  """How a train step mixes each batch (the fields of `config.mix`).

  Attributes:
    method: one of `METHODS` ('none', 'cutmix', 'mixup', 'cutout', 'fmix', 'resizemix',
      'saliencymix'), or your own op as 'module.path:function' (`methods.resolve_method`).
    alpha: Beta(alpha, alpha) parameter of CutMix, Mixup, FMix and SaliencyMix (the paper's
      beta), > 0.
    prob: probability that a batch is mixed at all (the official code's `cutmix_prob`).
    switch_prob: with method 'cutmix', the probability that a mixed batch uses Mixup instead.
      This is P(Mixup); timm's `switch_prob` is the opposite, P(CutMix) when both are on.
    mixup_alpha: the Beta parameter of those Mixup batches; 0 means `alpha` (timm has separate
      `mixup_alpha` and `cutmix_alpha`).
    per_example: one lam (and box) per image instead of one per batch: CutMix, SaliencyMix
      and Mixup (timm's `mode='elem'`; the Mixup batches of `switch_prob` keep one lam).
    cutmix_minmax: timm's box sides as fractions of the image `(low, high)`; empty: the
      official sampler.
    correct_lam: weigh the partner's label by the exact box area (True, the official code) or
      by the sampled lam (False).
    cutout_size: side of the Cutout square in pixels.
    fmix_decay_power: FMix's spectral decay (its paper's delta).
    fmix_spectrum: 'official' (the official code's spectrum, the default) or 'complex' (the
      paper's description); see `cutmix_jax.ops.fourier_mix`.
    fmix_max_soft: the official code's softening of the mask's edge, in [0, 0.5].
    fmix_reformulate: lam ~ Beta(alpha + 1, alpha), the official code's `reformulate`.
    resizemix_scale: ResizeMix's range of the box side, as fractions of the image side.
    resizemix_placement: 'official' (a uniform centre, the box clipped: the official code) or
      'inside' (the box always inside the image); see `cutmix_jax.ops.resize_mix`.
    partners: 'global' (one permutation, lam and box for the global batch, the paper at any
      device count) or 'device' (drawn within each device's share; see `cutmix_jax.ops.partners`).
    level: one of `LEVELS`. 'input' mixes the images (`mix_batch`); 'feature' is the paper's
      feature-level CutMix (section 4.1): the model CutMixes the feature maps entering a random
      stage (`cutmix_jax.ops.feature_mix`), one box per batch and device, with `alpha` and `prob`.
    off_after_epoch: from this epoch on batches are not mixed (timm's `mixup_off_epoch`);
      0: never. The train step honours it with a traced prob, so it costs no retrace.
    settings: a plug-in method's own settings, by name (its keyword-only parameters; see
      `methods`), e.g. `{'width': 8}`; empty for the built-in methods.
  """

  method: str = 'cutmix'
  alpha: float = 1.0
  prob: float = 1.0
  switch_prob: float = 0.0
  mixup_alpha: float = 0.0
  per_example: bool = False
  cutmix_minmax: Tuple[float, ...] = ()
  correct_lam: bool = True
  cutout_size: int = 16
  fmix_decay_power: float = fmix_lib.DECAY_POWER
  fmix_spectrum: str = 'official'
  fmix_max_soft: float = 0.0
  fmix_reformulate: bool = False
  resizemix_scale: Tuple[float, ...] = resizemix_lib.SCALE
  resizemix_placement: str = 'official'
  partners: str = 'global'
  level: str = 'input'
  off_after_epoch: int = 0
  settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  def __hash__(self):  # static under jit: settings hash by their items
    values = [getattr(self, f.name) for f in dataclasses.fields(self)]
    return hash(tuple(tuple(sorted(v.items())) if isinstance(v, dict) else v for v in values))

  def __post_init__(self):
    for name in ('cutmix_minmax', 'resizemix_scale'):
      object.__setattr__(self, name, tuple(getattr(self, name)))
    hashable = lambda v: tuple(v) if isinstance(v, list) else v
    object.__setattr__(self, 'settings', {k: hashable(v) for k, v in dict(self.settings).items()})
    if ':' in self.method:
      methods.check_plugin(self.method, self.settings)
    elif self.method not in methods.METHODS:
      raise ValueError(
          f'unknown mix method {self.method!r}; valid methods: '
          f'{", ".join(methods.METHODS)}, or your own op as \'module.path:function\''
      )
    elif self.settings:
      raise ValueError(
          f"settings={self.settings} are a plug-in method's own; method {self.method!r} takes "
          'none (its fields are those of config.mix)'
      )
    if self.level not in LEVELS:
      raise ValueError(f'unknown mix level {self.level!r}; valid levels: {", ".join(LEVELS)}')
    partners_lib.check_partners(self.partners)
    arguments.check_alpha(self.alpha)
    if self.mixup_alpha:
      arguments.check_alpha(self.mixup_alpha)
    for name in ('prob', 'switch_prob'):
      arguments.check_range(name, getattr(self, name), 0.0, 1.0)
    arguments.check_size(self.cutout_size)
    boxes.check_minmax(self.cutmix_minmax)
    resizemix_lib.check_scale(self.resizemix_scale)
    fmix_lib.check_settings(self.fmix_spectrum, self.fmix_max_soft)
    resizemix_lib.check_placement(self.resizemix_placement)
    if not (isinstance(self.off_after_epoch, int) and self.off_after_epoch >= 0):
      raise ValueError(f'off_after_epoch must be an integer >= 0; got {self.off_after_epoch!r}')
    self._check_applies()
    feature = (self.method, self.per_example, self.switch_prob, self.partners, self.cutmix_minmax)
    if self.level == 'feature' and feature != ('cutmix', False, 0.0, 'device', ()):
      raise ValueError(
          "level='feature' is CutMix with one box per batch on each device: it needs "
          "method='cutmix', per_example=False, switch_prob=0, partners='device' and no "
          f'cutmix_minmax; got method={self.method!r}, per_example={self.per_example}, '
          f'switch_prob={self.switch_prob}, partners={self.partners!r}, '
          f'cutmix_minmax={self.cutmix_minmax}'
      )

  def _check_applies(self) -> None:
    """Refuses, in one line, a changed setting that the chosen method would silently ignore."""
    if self.method == 'none':
      return  # mixes nothing: the baseline switch works on any recipe
    ignored = [n for n, default in _unread(self.method).items() if getattr(self, n) != default]
    if ignored:
      alpha = () if self.method in WITHOUT_ALPHA else ('alpha',)
      reads = alpha + ('prob', 'partners', 'off_after_epoch') + _OWN.get(self.method, ())
      raise ValueError(
          f'method {self.method!r} would ignore '
          f'{", ".join(f"{n}={getattr(self, n)!r}" for n in ignored)}; it reads '
          f'{", ".join(reads)} (leave the others at their defaults)'
      )

  def for_method(self, method: str, **changes) -> 'MixConfig':
    """These settings with another method: those that it would ignore go back to defaults."""
    return dataclasses.replace(self, method=method, **{**_unread(method), **changes})

  @classmethod
  def from_any(cls, config: Any) -> 'MixConfig':
    """Builds a validated MixConfig from a MixConfig, ConfigDict, dict or any attribute holder."""
    if isinstance(config, cls):
      return config
    missing = object()
    get = config.get if isinstance(config, dict) else lambda n, d: getattr(config, n, d)
    given = {f.name: get(f.name, missing) for f in dataclasses.fields(cls)}
    return cls(**{name: value for name, value in given.items() if value is not missing})
