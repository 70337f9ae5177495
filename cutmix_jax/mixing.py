"""On-device mixing ops: CutMix, Mixup and Cutout as pure functions of a `jax.random` key, and
the train step's entry point (`MixConfig`, `mix_batch`).

Everything here is shape-static and branch-free on traced values, so it runs unchanged under
`jax.jit` (also over a sharded mesh), `jax.vmap`, `jax.pmap` and `jax.shard_map`. Every op is a
mask and a label weight handed to `mask_mix.mix_by_mask`; who mixes with whom, on one device or
across many, is `cutmix_jax.partners`; the CutMix family's other members are `fmix`,
`resizemix` and `saliencymix`.

Conventions: images are NHWC `(N, H, W, C)`, or clips `(N, T, H, W, C)` that get one box per clip
across time, of any dtype (kept); labels are integer `(N,)` with `num_classes=K`, or soft targets
`(N, K)` (see `one_hot`); mixed labels are float. Every op returns
`(images, labels, *extras)`: extra targets (dense maps, boxes, keypoints) come back in the order
they were passed, so the common call stays `images, labels = op(key, images, labels)`.
"""

import dataclasses
import importlib
from typing import Any, Callable, NamedTuple, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp

from cutmix_jax import boxes
from cutmix_jax import detection
from cutmix_jax import fourier_mix as fmix_lib
from cutmix_jax import mask_mix
from cutmix_jax import op_inputs
from cutmix_jax import partners as partners_lib
from cutmix_jax import resize_mix as resizemix_lib
from cutmix_jax import saliency_mix as saliencymix_lib
from cutmix_jax.boxes import sample_box

METHODS = ('none', 'cutmix', 'mixup', 'cutout', 'fmix', 'resizemix', 'saliencymix')  # built in
LEVELS = ('input', 'feature')  # where CutMix mixes: the images, or a random stage's features
check_images = op_inputs.check_images


class CutMixDraw(NamedTuple):
  """What one CutMix call draws: the partners, lam and the key of the box.

  The box is drawn last, in the coordinates of whatever is mixed (`box`), so input-level CutMix
  and feature-level CutMix (`cutmix_jax.feature_mix`, at any stage's resolution) share one draw.

  Attributes:
    pairing: the partners (`partners.Pairing`).
    lam: the Beta draw: a scalar, or with per_example one per image of the whole drawn batch
      (`(pairing.size,)`; `local_lam` is this call's share).
    box_key: the key of the box position(s).
    per_example: one lam and box per image.
    minmax: timm's box sides `(low, high)`, or () for the official sampler.
  """

  pairing: partners_lib.Pairing
  lam: jax.Array
  box_key: jax.Array
  per_example: bool = False
  minmax: Tuple[float, ...] = ()

  def box(self, height: int, width: int) -> boxes.Box:
    """The box(es) `(y1, y2, x1, x2)` in an `H x W` map: scalars, or `(n,)` with per_example."""
    count = self.pairing.size if self.per_example else 0
    box = _draw_boxes(self.box_key, self.lam, count, height, width, self.minmax)
    return tuple(self.pairing.local(edge) for edge in box) if self.per_example else box

  @property
  def local_lam(self) -> jax.Array:
    """lam of this call's rows."""
    return self.pairing.local(self.lam) if self.per_example else self.lam


def draw_cutmix(
    rng,
    images,
    *,
    alpha=1.0,
    per_example: bool = False,
    minmax: Optional[Sequence[float]] = None,
    partners: str = 'global',
    axis_name: Optional[str] = None,
) -> CutMixDraw:
  """The partners, lam and box key of a CutMix call, as `cutmix` draws them from `rng`.

  Args as `cutmix`; `images` only lend their batch (its size and layout).
  """
  boxes.check_minmax(minmax)
  pairing, lam, key_box = mask_mix.draw_partners_and_lam(
      rng, images, alpha, partners, axis_name, per_example
  )
  return CutMixDraw(pairing, lam, key_box, per_example, tuple(minmax or ()))


def _draw_boxes(box_key, lam, count: int, height: int, width: int, minmax):
  """One box (`count` = 0) or `count` boxes, from the official sampler or timm's min-max one."""
  if minmax:
    sample = lambda key, _: boxes.sample_box_minmax(key, minmax, height, width)
  else:
    sample = lambda key, lam_: sample_box(key, lam_, height, width)
  if not count:
    return sample(box_key, lam)
  return jax.vmap(sample)(jax.random.split(box_key, count), lam)


# ---------------------------------------------------------------------------------------------
# CutMix
# ---------------------------------------------------------------------------------------------
def cutmix(
    rng,
    images,
    labels,
    *extras,
    alpha=1.0,
    per_example: bool = False,
    num_classes: Optional[int] = None,
    minmax: Optional[Sequence[float]] = None,
    correct_lam: bool = True,
    partners: str = 'global',
    axis_name: Optional[str] = None,
    min_visible: float = detection.MIN_VISIBLE,
):
  """CutMix (Yun et al., 2019): paste a box from a partner image, mix labels by its area.

  lam ~ Beta(alpha, alpha); partners are a random permutation of the batch (an image may be its
  own partner); the label weight on the partner is the exact clipped box area over `H * W`.

  Args:
    rng: a `jax.random` key (the same on every device under `pmap`; see `cutmix_jax.partners`).
    images: `(N, H, W, C)` images or `(N, T, H, W, C)` clips (one box per clip), any dtype.
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    *extras: targets that follow the paste: dense maps `(N, H, W[, K])` (segmentation) take the
      same pixels; `detection.Boxes` and `detection.Keypoints` keep what stays visible and gain
      the partner's inside the box (`(N, 2M)` out of `(N, M)`).
    alpha: Beta parameter (the paper's beta), > 0; may be traced.
    per_example: False is the paper (one lam and one box per batch); True draws an independent
      lam and box for each image.
    num_classes: K, for integer labels.
    minmax: timm's `cutmix_minmax` `(low, high)`: box sides uniform in those fractions of the
      image, placed inside it, lam unused for the box; labels always follow the exact area.
    correct_lam: True (the official code) weighs the partner's label by the exact clipped box
      area; False by the sampled `1 - lam` (timm's `correct_lam=False`).
    partners: 'global' (the paper: one draw for the whole batch, across devices) or 'device'.
    axis_name: the `pmap` / `shard_map` axis of the batch, if any.
    min_visible: boxes: the share of a box's area that must stay visible for it to be kept.

  Returns:
    `(mixed_images, mixed_labels, *mixed_extras)`, the extras in the order given. Images keep
    their shape and dtype; labels are float `(N, K)`. The draw itself: `draw_cutmix`.
  """
  op_inputs.check_images(images)
  labels = op_inputs.soft_targets(labels, images.shape[0], num_classes)
  draw = draw_cutmix(
      rng,
      images,
      alpha=alpha,
      per_example=per_example,
      minmax=minmax,
      partners=partners,
      axis_name=axis_name,
  )
  box = draw.box(images.shape[-3], images.shape[-2])
  weight = None if correct_lam or minmax else 1.0 - draw.local_lam
  return mask_mix.paste_rectangle(
      images, labels, box, draw.pairing, extras, weight=weight, min_visible=min_visible
  )


# ---------------------------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------------------------
def mixup(
    rng,
    images,
    labels,
    *extras,
    alpha=1.0,
    num_classes: Optional[int] = None,
    partners: str = 'global',
    axis_name: Optional[str] = None,
):
  """Mixup (Zhang et al., 2018): `lam * x + (1 - lam) * x[perm]`, labels with the same lam.

  Args:
    rng: a `jax.random` key (the same on every device under `pmap`).
    images: `(N, H, W, C)` or `(N, T, H, W, C)`, any dtype: float images keep their dtype;
      integer images (uint8) come back rounded to the nearest integer, so 1.546 becomes 2.
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    *extras: float dense maps `(N, H, W[, K])`, blended with the same lam.
    alpha: Beta parameter, > 0; may be traced.
    num_classes: K, for integer labels.
    partners: 'global' or 'device' (see `cutmix`).
    axis_name: the `pmap` / `shard_map` axis of the batch, if any.

  Returns:
    `(mixed_images, mixed_labels, *mixed_extras)`.
  """
  op_inputs.check_images(images)
  if any(detection.is_geometric(extra) for extra in extras):
    raise ValueError('mixup blends whole images: boxes and keypoints follow only cutmix')
  pairing, lam, _ = mask_mix.draw_partners_and_lam(rng, images, alpha, partners, axis_name)
  mask = jnp.full(images.shape[-3:-1], 1.0 - lam, jnp.float32)
  return mask_mix.mix_by_mask(
      images, labels, mask, pairing, *extras, weight=1.0 - lam, num_classes=num_classes
  )


def cutout(rng, images, labels, *extras, size: int, num_classes: Optional[int] = None):
  """Cutout (DeVries & Taylor, 2017): zero a square at a uniformly drawn centre, per image.

  The square's edges are `clip(centre -/+ size // 2, 0, dim)` as in the Cutout reference code, so
  an unclipped square has side `2 * (size // 2)` (an odd size rounds down). Clips get one square
  per clip across time. Labels are unchanged (made float soft targets); it is `mix_by_mask`
  with a black partner image and label weight 0.

  Args:
    rng: a `jax.random` key.
    images: `(N, H, W, C)` or `(N, T, H, W, C)`, any dtype.
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    *extras: dense maps, boxes or keypoints: unchanged (Cutout hides pixels, no object moves).
    size: side of the square in pixels, a positive Python or NumPy integer.
    num_classes: K, for integer labels.

  Returns:
    `(images_with_holes, labels, *extras)`.
  """
  height, width = op_inputs.check_images(images)
  half = op_inputs.check_size(size) // 2
  keys = jax.random.split(rng, images.shape[0])
  holes = jax.vmap(boxes.box_around_random_centre, in_axes=(0, None, None, None, None))(
      keys, half, half, height, width
  )
  itself = partners_lib.Pairing.themselves(images.shape[0])
  mixed = mask_mix.mix_by_mask(
      images,
      labels,
      mask_mix.box_masks(holes, height, width),
      itself,
      weight=0.0,
      num_classes=num_classes,
      partner_images=jnp.zeros_like(images),
  )
  return (*mixed, *extras)


# ---------------------------------------------------------------------------------------------
# Labels and the train-step entry point
# ---------------------------------------------------------------------------------------------
def check_label_smoothing(smoothing) -> None:
  """Raises ValueError unless `smoothing` is in [0, 1)."""
  if not 0.0 <= smoothing < 1.0:
    raise ValueError(f'label smoothing must be in [0, 1); got {smoothing}')


def one_hot(labels, num_classes: int, smoothing: float = 0.0, dtype=jnp.float32):
  """Integer labels `(N,)` to soft targets `(N, K)`, with optional label smoothing.

  Smoothing spreads `smoothing` uniformly over all K classes: `(1 - s) * onehot + s / K`.
  Apply it before mixing, so that mixing stays linear in the targets. Concrete labels outside
  `[0, K)` raise ValueError (under `jit` they cannot be checked and give a zero row).
  """
  check_label_smoothing(smoothing)
  op_inputs.check_label_range(labels, num_classes)
  targets = jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)
  return ((1.0 - smoothing) * targets + smoothing / num_classes).astype(dtype)


@dataclasses.dataclass(frozen=True)
class MixConfig:
  """How a train step mixes each batch (the fields of `config.mix`).

  Attributes:
    method: one of `METHODS` ('none', 'cutmix', 'mixup', 'cutout', 'fmix', 'resizemix',
      'saliencymix'), or your own op as 'module.path:function' (`resolve_method`).
    alpha: Beta(alpha, alpha) parameter of CutMix, Mixup, FMix and SaliencyMix (the paper's
      beta), > 0.
    prob: probability that a batch is mixed at all (the official code's `cutmix_prob`).
    switch_prob: with method 'cutmix', the probability that a mixed batch uses Mixup instead.
      This is P(Mixup); timm's `switch_prob` is the opposite, P(CutMix) when both are on.
    mixup_alpha: the Beta parameter of those Mixup batches; 0 means `alpha` (timm has separate
      `mixup_alpha` and `cutmix_alpha`).
    per_example: CutMix with one lam and box per image instead of one per batch.
    cutmix_minmax: timm's box sides as fractions of the image `(low, high)`; empty: the
      official sampler.
    correct_lam: weigh the partner's label by the exact box area (True, the official code) or
      by the sampled lam (False).
    cutout_size: side of the Cutout square in pixels.
    fmix_decay_power: FMix's spectral decay (its paper's delta).
    resizemix_scale: ResizeMix's range of the box side, as fractions of the image side.
    partners: 'global' (one permutation, lam and box for the global batch, the paper at any
      device count) or 'device' (drawn within each device's share; see `cutmix_jax.partners`).
    level: one of `LEVELS`. 'input' mixes the images (`mix_batch`); 'feature' is the paper's
      feature-level CutMix (section 4.1): the model CutMixes the feature maps entering a random
      stage (`cutmix_jax.feature_mix`), one box per batch and device, with `alpha` and `prob`.
    off_after_epoch: from this epoch on batches are not mixed (timm's `mixup_off_epoch`);
      0: never. The train step honours it with a traced prob, so it costs no retrace.
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
  resizemix_scale: Tuple[float, ...] = resizemix_lib.SCALE
  partners: str = 'global'
  level: str = 'input'
  off_after_epoch: int = 0

  def __post_init__(self):
    for name in ('cutmix_minmax', 'resizemix_scale'):
      object.__setattr__(self, name, tuple(getattr(self, name)))
    if ':' in self.method:
      resolve_method(self.method)
    elif self.method not in METHODS:
      raise ValueError(
          f'unknown mix method {self.method!r}; valid methods: {", ".join(METHODS)}, or your '
          "own op as 'module.path:function'"
      )
    if self.level not in LEVELS:
      raise ValueError(f'unknown mix level {self.level!r}; valid levels: {", ".join(LEVELS)}')
    partners_lib.check_partners(self.partners)
    op_inputs.check_alpha(self.alpha)
    if self.mixup_alpha:
      op_inputs.check_alpha(self.mixup_alpha)
    for name in ('prob', 'switch_prob'):
      op_inputs.check_range(name, getattr(self, name), 0.0, 1.0)
    op_inputs.check_size(self.cutout_size)
    boxes.check_minmax(self.cutmix_minmax)
    resizemix_lib.check_scale(self.resizemix_scale)
    if not (isinstance(self.off_after_epoch, int) and self.off_after_epoch >= 0):
      raise ValueError(f'off_after_epoch must be an integer >= 0; got {self.off_after_epoch!r}')
    feature = (self.method, self.per_example, self.switch_prob, self.partners, self.cutmix_minmax)
    if self.level == 'feature' and feature != ('cutmix', False, 0.0, 'device', ()):
      raise ValueError(
          "level='feature' is CutMix with one box per batch on each device: it needs "
          "method='cutmix', per_example=False, switch_prob=0, partners='device' and no "
          f'cutmix_minmax; got method={self.method!r}, per_example={self.per_example}, '
          f'switch_prob={self.switch_prob}, partners={self.partners!r}, '
          f'cutmix_minmax={self.cutmix_minmax}'
      )

  @classmethod
  def from_any(cls, config: Any) -> 'MixConfig':
    """Builds a validated MixConfig from a MixConfig, ConfigDict, dict or any attribute holder."""
    if isinstance(config, cls):
      return config
    get = (
        config.get
        if isinstance(config, dict)
        else lambda name, default: getattr(config, name, default)
    )
    return cls(**{f.name: get(f.name, f.default) for f in dataclasses.fields(cls)})


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


def _cutmix_or_switch(rng, images, labels, config: MixConfig, alpha, axis_name):
  """CutMix, or with `switch_prob` Mixup instead (with its own `mixup_alpha`, if set)."""
  key_switch, key_mix = jax.random.split(rng)
  shared = dict(partners=config.partners, axis_name=axis_name)
  by_cutmix = lambda: cutmix(
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
  by_mixup = lambda: mixup(key_mix, images, labels, alpha=config.mixup_alpha or alpha, **shared)
  key_switch = partners_lib.step_key(key_switch, config.partners, axis_name)
  return jax.lax.cond(jax.random.uniform(key_switch) < config.switch_prob, by_mixup, by_cutmix)


# method -> how `mix_batch` calls it: (key, images, soft labels, config, alpha, axis_name)
_OPS = {
    'cutmix': _cutmix_or_switch,
    'mixup': lambda key, x, y, c, alpha, axis: mixup(
        key, x, y, alpha=alpha, partners=c.partners, axis_name=axis
    ),
    'cutout': lambda key, x, y, c, alpha, axis: cutout(
        partners_lib.step_key(key, 'device', axis), x, y, size=c.cutout_size
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


def _mix_unconditionally(rng, images, labels, config: MixConfig, alpha, axis_name):
  """The mix of `config.method`; keys are folded per device by the ops themselves where the
  partners or the holes are drawn per device."""
  if config.method in _OPS:
    return _OPS[config.method](rng, images, labels, config, alpha, axis_name)
  op = resolve_method(config.method)
  return op(rng, images, labels, alpha=alpha, partners=config.partners, axis_name=axis_name)[:2]


def mix_batch(rng, images, labels, config, *, prob=None, alpha=None, axis_name=None):
  """Mixes one batch as `config` says: the one call a train step makes.

  With probability `prob` (default `config.prob`) the batch is mixed by `config.method`,
  otherwise it is returned as it is (bit for bit). The decision is drawn on device, so it does
  not retrace; with partners='global' it is the same on every device.

  Args:
    rng: a `jax.random` key (the same on every device under `pmap`).
    images: `(N, H, W, C)` or `(N, T, H, W, C)`.
    labels: `(N, K)` soft targets (see `one_hot`).
    config: a `MixConfig`, or a ConfigDict / dict with its fields (static under `jit`).
    prob: overrides `config.prob`; may be traced (a schedule, `off_after_epoch`).
    alpha: overrides `config.alpha`; may be traced.
    axis_name: the `pmap` / `shard_map` axis of the batch, if any.

  Returns:
    `(images, labels)` mixed or not, with the shapes and dtypes of the inputs.

  Raises:
    ValueError: for a config with level='feature' (the model mixes then; see `feature_mix`).
  """
  config = MixConfig.from_any(config)
  if config.level != 'input':
    raise ValueError(
        "mix_batch mixes images; a config with level='feature' is carried out by "
        'the model (cutmix_jax.feature_mix)'
    )
  op_inputs.check_images(images)
  labels = op_inputs.soft_targets(labels, images.shape[0], None)
  prob = config.prob if prob is None else prob
  alpha = config.alpha if alpha is None else alpha
  op_inputs.check_range('prob', prob, 0.0, 1.0)
  known_prob = op_inputs.concrete(prob)
  if config.method == 'none' or known_prob == 0.0:
    return images, labels
  key_apply, key_mix = jax.random.split(rng)
  mix = lambda: _mix_unconditionally(key_mix, images, labels, config, alpha, axis_name)
  if known_prob == 1.0:
    return mix()
  key_apply = partners_lib.step_key(key_apply, config.partners, axis_name)
  apply = jax.random.uniform(key_apply) < prob
  return jax.lax.cond(apply, mix, lambda: (images, labels))
