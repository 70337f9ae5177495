"""How a train step mixes each batch: `MixConfig`, the fields of `config.mix`, checked once.

The settings every method shares are fields of `MixConfig`; each built-in method's own settings
are a section named after it (`config.mix.fmix.decay_power`, the method's settings dataclass in
`registry`), and a plug-in's are `config.mix.settings`. A method refuses, in one line, a changed
setting that it would not read.
"""

import dataclasses
from typing import Any, Dict, Mapping, Tuple

import jax

from cutmix_jax.config import workdir_files
from cutmix_jax.ops import arguments
from cutmix_jax.ops import methods
from cutmix_jax.ops import partners as partners_lib
from cutmix_jax.ops import registry

LEVELS = ('input', 'feature')  # where CutMix mixes: the images, or a random stage's features
COMMON = ('method', 'alpha', 'prob', 'weights', 'partners', 'level', 'off_after_epoch')
READ_BY_ALL = ('method', 'prob', 'partners', 'level', 'off_after_epoch')


@jax.tree_util.register_static  # a jit argument without static_argnames
@dataclasses.dataclass(frozen=True)
class MixConfig:
  """How a train step mixes each batch (the fields of `config.mix`); hashable, and static under
  `jax.jit` whether passed as an argument or closed over.

  Attributes:
    method: 'none', one of `registry.BUILT_IN` ('cutmix', 'mixup', 'cutout', 'fmix',
      'resizemix', 'saliencymix'), your own op as 'module.path:function' (`registry`), or
      several of them joined by commas ('cutmix,mixup'): one drawn per batch (torchvision's
      `RandomChoice`, OpenMixup's `mix_mode` list), each with its own settings.
    alpha: Beta(alpha, alpha) parameter of CutMix, Mixup, FMix and SaliencyMix (the paper's
      beta), > 0.
    prob: probability that a batch is mixed at all (the official code's `cutmix_prob`).
    weights: with several methods, the probability of each (normalized); empty: equal.
    partners: 'global' (one permutation, lam and box for the global batch, the paper at any
      device count) or 'device' (drawn within each device's share; see `cutmix_jax.ops.partners`).
    level: one of `LEVELS`. 'input' mixes the images (`mix_batch`); 'feature' is the paper's
      feature-level CutMix (section 4.1): the model CutMixes the feature maps entering a random
      stage (`cutmix_jax.ops.feature_mix`), one box per batch and device, with `alpha` and `prob`.
    off_after_epoch: from this epoch on batches are not mixed (timm's `mixup_off_epoch`);
      0: never. The train step honours it with a traced prob, so it costs no retrace.
    sections: each built-in method's own settings by its name (`CutMixSettings`,
      `FMixSettings`, ...; dicts are taken too): in a config file and on the command line they
      are `config.mix.<method>.<field>`. Those not given keep their defaults.
    settings: a plug-in method's own settings by name (its keyword-only parameters, or its
      registered settings class), e.g. `{'cells': 8}`; empty for the built-in methods.
  """

  method: str = 'cutmix'
  alpha: float = 1.0
  prob: float = 1.0
  weights: Tuple[float, ...] = ()
  partners: str = 'global'
  level: str = 'input'
  off_after_epoch: int = 0
  sections: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  def __hash__(self):  # static under jit: the mappings hash by their items
    values = [getattr(self, f.name) for f in dataclasses.fields(self)]
    return hash(tuple(tuple(sorted(v.items())) if isinstance(v, dict) else v for v in values))

  def __post_init__(self):
    object.__setattr__(self, 'weights', tuple(self.weights))
    hashable = lambda v: tuple(v) if isinstance(v, list) else v
    object.__setattr__(self, 'settings', {k: hashable(v) for k, v in dict(self.settings).items()})
    object.__setattr__(self, 'sections', _built_sections(self.sections))
    plugins = [name for name in self.methods if ':' in name]
    for name in self.methods:
      if name != 'none':
        registry.get(name)  # an unknown name, or a plug-in that does not import, in one line
    if len(plugins) > 1:
      raise ValueError(f'method {self.method!r}: at most one plug-in method (settings are its)')
    for name in plugins:
      methods.check_plugin(registry.get(name), self.settings_of(name))
    if self.level not in LEVELS:
      raise ValueError(f'unknown mix level {self.level!r}; valid levels: {", ".join(LEVELS)}')
    partners_lib.check_partners(self.partners)
    arguments.check_alpha(self.alpha)
    arguments.check_range('prob', self.prob, 0.0, 1.0)
    self._check_weights()
    if not (isinstance(self.off_after_epoch, int) and self.off_after_epoch >= 0):
      raise ValueError(f'off_after_epoch must be an integer >= 0; got {self.off_after_epoch!r}')
    self._check_applies()
    weighted = [name for name in self.methods if name != 'none' and registry.get(name).relabel]
    if weighted and len(self.methods) > 1:
      raise ValueError(
          f'method {self.method!r}: {weighted[0]} weighs the labels after the forward pass, so '
          'it mixes alone (its own mixup_prob switches to Mixup per batch)'
      )
    plain_cutmix = self.method == 'cutmix' and self.sections['cutmix'] == _DEFAULT_CUTMIX
    if self.level == 'feature' and not (plain_cutmix and self.partners == 'device'):
      raise ValueError(
          "level='feature' is CutMix with one box per batch on each device: it needs "
          "method='cutmix' with its default settings (mode 'batch', no mixup_prob, no minmax) "
          f"and partners='device'; got method={self.method!r}, cutmix={self.sections['cutmix']}, "
          f'partners={self.partners!r}'
      )

  @property
  def relabel(self):
    """What gives the labels after the forward pass (TransMix's `relabel`), or None."""
    if self.level != 'input' or len(self.methods) > 1 or self.method == 'none':
      return None
    return registry.get(self.method).relabel

  @property
  def methods(self) -> Tuple[str, ...]:
    """The method names of `method` (several if joined by commas)."""
    return tuple(name.strip() for name in self.method.split(','))

  def settings_of(self, name: str):
    """The settings (a dataclass instance) of method `name`: its section, or for a plug-in
    `settings`.

    Raises:
      ValueError: one line, for a plug-in setting the method does not have.
    """
    if name in self.sections:
      return self.sections[name]
    method = registry.get(name)
    own = [f.name for f in dataclasses.fields(method.settings)]
    unknown = sorted(set(self.settings) - set(own))
    if unknown:
      raise ValueError(
          f'mix method {name!r} has no setting {", ".join(unknown)}; its settings: '
          f'{", ".join(own) or "none"}'
      )
    return method.settings(**self.settings)

  def _check_weights(self) -> None:
    if not self.weights:
      return
    if len(self.weights) != len(self.methods) or len(self.methods) < 2:
      raise ValueError(
          f'weights={self.weights} must give one probability for each of several methods; '
          f'method {self.method!r} names {len(self.methods)}'
      )
    if min(self.weights) < 0 or sum(self.weights) <= 0:
      raise ValueError(f'weights must be >= 0 and not all 0; got {self.weights}')

  def reads(self) -> Tuple[str, ...]:
    """The fields this config's method(s) read, with sections as 'name.field'."""
    chosen = [n for n in self.methods if n != 'none']
    alpha = ('alpha',) if any(registry.get(n).uses_alpha for n in chosen) else ()
    weights = ('weights',) if len(self.methods) > 1 else ()
    own = [
        f'{name}.{field.name}'
        for name in chosen
        if name in self.sections
        for field in dataclasses.fields(self.sections[name])
    ]
    plugin = ('settings',) if any(':' in n for n in chosen) else ()
    return (*READ_BY_ALL[:1], *alpha, *READ_BY_ALL[1:], *weights, *own, *plugin)

  def _check_applies(self) -> None:
    """Refuses, in one line, a changed setting that the chosen method(s) would silently ignore."""
    if self.method == 'none':
      return  # mixes nothing: the baseline switch works on any recipe
    flat, reads = self.as_flat_dict(), self.reads()
    prefixes = tuple(f'{r}.' for r in reads)
    ignored = [
        name
        for name, value in flat.items()
        if name not in reads and not name.startswith(prefixes) and value != _DEFAULTS[name]
    ]
    if ignored:
      raise ValueError(
          f'method {self.method!r} would ignore '
          f'{", ".join(f"{n}={flat[n]!r}" for n in ignored)}; it reads '
          f'{", ".join(reads)} (leave the others at their defaults)'
      )

  def as_flat_dict(self) -> Dict[str, Any]:
    """Every field by its dotted name below `config.mix` ('alpha', 'fmix.decay_power', ...)."""
    flat = {name: getattr(self, name) for name in COMMON}
    for name, section in self.sections.items():
      for field in dataclasses.fields(section):
        flat[f'{name}.{field.name}'] = getattr(section, field.name)
    flat['settings'] = dict(self.settings)
    return flat

  def as_dict(self) -> Dict[str, Any]:
    """The fields as `config.mix` holds them: the common ones, a dict per method's section, and
    `settings`."""
    sections = {name: dataclasses.asdict(section) for name, section in self.sections.items()}
    return {**{name: getattr(self, name) for name in COMMON}, **sections,
            'settings': dict(self.settings)}  # fmt: skip

  def for_method(self, method: str, **changes) -> 'MixConfig':
    """These settings with another method: what it would not read goes back to the defaults
    (its own section is kept). `changes` are fields, or sections by name."""
    keep = {name.strip() for name in method.split(',')}
    sections = {name: s for name, s in self.sections.items() if name in keep}
    given = [name for name in changes if name in registry.BUILT_IN]
    sections.update({name: changes.pop(name) for name in given})
    reads_alpha = any(registry.get(n).uses_alpha for n in keep if n != 'none')
    fields = dict(
        method=method,
        weights=(),
        sections=sections,
        settings=self.settings if any(':' in n for n in keep) else {},
        alpha=self.alpha if reads_alpha or method == 'none' else MixConfig.alpha,
    )
    return dataclasses.replace(self, **{**fields, **changes})

  @classmethod
  def from_any(cls, config: Any) -> 'MixConfig':
    """Builds a validated MixConfig from a MixConfig, or a ConfigDict or dict laid out as
    `as_dict` (absent fields keep their defaults).

    Raises:
      ValueError: one line for a field that is none of `config.mix`'s (with its fields).
    """
    if isinstance(config, cls):
      return config
    given = dict(config.to_dict() if hasattr(config, 'to_dict') else config)
    known = (*COMMON, *registry.BUILT_IN, 'settings')
    unknown = sorted(set(given) - set(known))
    if unknown:
      raise ValueError(
          f'config.mix.{unknown[0]} is no field of config.mix; its fields: '
          f'{", ".join(COMMON)}, settings, and a section per method: '
          f'{", ".join(registry.BUILT_IN)}'
      )
    sections = {name: given.pop(name) for name in registry.BUILT_IN if name in given}
    return cls(**given, sections=sections)


def _built_sections(given: Mapping[str, Any]) -> Dict[str, Any]:
  """Every built-in method's settings: given ones (dataclasses or dicts), the rest defaults."""
  unknown = sorted(set(given) - set(registry.BUILT_IN))
  if unknown:
    raise ValueError(
        f'config.mix.{unknown[0]} is no section of config.mix; its sections: '
        f'{", ".join(registry.BUILT_IN)}'
    )
  sections = {}
  for name in registry.BUILT_IN:
    settings_class = registry.get(name).settings
    value = given.get(name, settings_class())
    if not isinstance(value, settings_class):
      value = dict(value)
      fields = [f.name for f in dataclasses.fields(settings_class)]
      unknown = sorted(set(value) - set(fields))
      if unknown:
        renamed = workdir_files.RENAMED.get(f'mix.{name}.{unknown[0]}', '')
        hint = f' (renamed {renamed.rsplit(".", 1)[-1]})' if renamed else ''
        raise ValueError(
            f'config.mix.{name}.{unknown[0]} is no setting of {name}{hint}; its settings: '
            f'{", ".join(fields)}'
        )
      try:
        value = settings_class(**value)
      except ValueError as error:
        raise ValueError(f'config.mix.{name}: {error}') from None
    sections[name] = value
  return sections


def _defaults() -> Dict[str, Any]:
  """The default of every field by its dotted name (as `MixConfig.as_flat_dict`)."""
  flat = {f.name: f.default for f in dataclasses.fields(MixConfig) if f.name in COMMON}
  for name in registry.BUILT_IN:
    defaults = registry.get(name).settings()
    for field in dataclasses.fields(defaults):
      flat[f'{name}.{field.name}'] = getattr(defaults, field.name)
  return {**flat, 'settings': {}}


_DEFAULTS = _defaults()
_DEFAULT_CUTMIX = registry.get('cutmix').settings()


def unused_fields(method: str) -> Tuple[str, ...]:
  """The fields of `config.mix` (dotted below it) that `method` does not read: changing them
  changes nothing."""
  flat = _DEFAULTS
  if method == 'none':
    return tuple(name for name in flat if name != 'method')
  try:
    reads = MixConfig(method=method).reads()
  except ValueError:  # a plug-in that no longer imports: every field may matter
    return ()
  prefixes = tuple(f'{r}.' for r in reads)
  return tuple(n for n in flat if n not in reads and not n.startswith(prefixes))
