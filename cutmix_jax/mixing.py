"""On-device mixing ops: CutMix, Mixup and Cutout as pure functions of a `jax.random` key.

Everything here is shape-static and branch-free on traced values, so it runs unchanged under
`jax.jit` (also over a sharded mesh), `jax.vmap`, `jax.pmap` and `jax.shard_map`. The box is a
boolean mask built from broadcast index comparisons and blending is a select: no host sync, no
dynamic shapes. Who mixes with whom, on one device or across many, is `cutmix_jax.partners`.

Conventions: images are NHWC `(N, H, W, C)`, or clips `(N, T, H, W, C)` that get one box per clip
across time, of any dtype (kept); labels are integer `(N,)` with `num_classes=K`, or soft targets
`(N, K)` (see `one_hot`); mixed labels are float.
"""

import dataclasses
from typing import Any, NamedTuple, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp

from cutmix_jax import boxes
from cutmix_jax import op_inputs
from cutmix_jax import partners as partners_lib
from cutmix_jax.boxes import box_area_ratio
from cutmix_jax.boxes import box_mask
from cutmix_jax.boxes import sample_box

METHODS = ('none', 'cutmix', 'mixup', 'cutout')
LEVELS = ('input', 'feature')  # where CutMix mixes: the images, or a random stage's features
check_images = op_inputs.check_images


class MixInfo(NamedTuple):
  """What a mixing call drew, for users who transform their own targets (detection boxes).

  Attributes:
    permutation: `(N,)` int32 partner of each example, an index into the batch the draw covers
      (the global batch with partners='global' under `pmap`; see `cutmix_jax.partners`).
    lam: the Beta draw, a scalar or `(N,)`.
    box: CutMix's `(y1, y2, x1, x2)`, scalars or `(N,)` (zeros for Mixup).
    ratio: the label weight of the partner, a scalar or `(N,)`.
  """

  permutation: jax.Array
  lam: jax.Array
  box: Tuple[jax.Array, ...]
  ratio: jax.Array


def select_pixels(mask, on_true, on_false):
  """`jnp.where(mask, on_true, on_false)` on the raw bits of the pixels: exact for any dtype.

  XLA:CPU has no native bfloat16 select and converts through float32; selecting the same-width
  unsigned integers moves the same bytes and runs about twice as fast there (no change on GPU).
  """
  dtype = on_false.dtype
  bits = {2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint64}.get(jnp.dtype(dtype).itemsize)
  if bits is None:
    return jnp.where(mask, on_true, on_false)
  as_bits = lambda x: jax.lax.bitcast_convert_type(x.astype(dtype), bits)
  chosen = jnp.where(mask, as_bits(on_true), as_bits(on_false))
  return jax.lax.bitcast_convert_type(chosen, dtype)


def _broadcast_box(mask, like, per_example: bool):
  """`mask` `(H, W)` or `(N, H, W)` shaped to broadcast against `like`: `(N, H, W)`,
  `(N, H, W, C)` (images or dense targets) or `(N, T, H, W, C)` (clips)."""
  mask = mask if per_example else mask[None]
  if like.ndim == 5:
    mask = mask[:, None]
  return mask[..., None] if like.ndim >= 4 else mask


def mix_labels(labels, partner_labels, ratio):
  """`(1 - ratio) * labels + ratio * partner_labels`, ratio a scalar or `(N,)`."""
  ratio = jnp.asarray(ratio, jnp.float32)
  if ratio.ndim == 1:
    ratio = ratio[:, None]
  return ((1.0 - ratio) * labels + ratio * partner_labels).astype(labels.dtype)


# ---------------------------------------------------------------------------------------------
# CutMix
# ---------------------------------------------------------------------------------------------
def draw_partners_and_lam(rng, batch_size: int, alpha, per_example: bool = False):
  """Partners, lam and the box key of one device's batch, as `cutmix` draws them from `rng`.

  Returns:
    `(permutation (N,) int32, lam (scalar, or (N,) if per_example), box_key)`. Feature-level
    mixing (`cutmix_jax.feature_mix`) starts here, so the same key gives the same partners, lam
    and box at any layer as `cutmix` with partners='device' gives at the input.
  """
  key_perm, key_lam, key_box = jax.random.split(rng, 3)
  permutation = jax.random.permutation(key_perm, batch_size).astype(jnp.int32)
  lam = jax.random.beta(key_lam, alpha, alpha, (batch_size,) if per_example else ())
  return permutation, lam, key_box


def _draw_boxes(box_key, lam, count: int, height: int, width: int, minmax):
  """One box (`count` = 0) or `count` boxes, from the official sampler or timm's min-max one."""
  if minmax:
    sample = lambda key, _: boxes.sample_box_minmax(key, minmax, height, width)
  else:
    sample = lambda key, lam_: sample_box(key, lam_, height, width)
  if not count:
    return sample(box_key, lam)
  return jax.vmap(sample)(jax.random.split(box_key, count), lam)


def paste_box(box, images, partner_images, per_example: bool = False):
  """Replaces `box` of each image (one box, or one per image) by the same box of its partner.

  Returns:
    `(mixed_images, ratio)`: ratio is the exact pasted area over `H * W`.
  """
  height, width = images.shape[-3], images.shape[-2]
  masks = _box_masks(box, height, width, per_example)
  mixed = select_pixels(_broadcast_box(masks, images, per_example), partner_images, images)
  return mixed, box_area_ratio(box, height, width)


def paste_partner_box(box_key, lam, images, partner_images, per_example=False, minmax=None):
  """Draws the box(es) from `box_key` and `lam` and pastes them (see `paste_box`).

  Args:
    box_key: key of the box positions.
    lam: scalar (one box for the batch) or `(N,)` (one box per image, with per_example=True).
    images: `(N, H, W, C)` images or feature maps, or clips `(N, T, H, W, C)`.
    partner_images: the partner of each, of the same shape.
    per_example: whether `lam` holds one value per image.
    minmax: timm's `cutmix_minmax` box sides, or None for the official sampler.

  Returns:
    `(mixed_images, box, ratio)`.
  """
  count = images.shape[0] if per_example else 0
  box = _draw_boxes(box_key, lam, count, images.shape[-3], images.shape[-2], minmax)
  mixed, ratio = paste_box(box, images, partner_images, per_example)
  return mixed, box, ratio


def cutmix(
    rng,
    images,
    labels,
    *,
    alpha=1.0,
    per_example: bool = False,
    num_classes: Optional[int] = None,
    masks=None,
    minmax: Optional[Sequence[float]] = None,
    correct_lam: bool = True,
    partners: str = 'global',
    axis_name: Optional[str] = None,
    return_info: bool = False,
):
  """CutMix (Yun et al., 2019): paste a box from a partner image, mix labels by its area.

  lam ~ Beta(alpha, alpha); partners are a random permutation of the batch (an image may be its
  own partner); the label weight on the partner is the exact clipped box area over `H * W`.

  Args:
    rng: a `jax.random` key (the same on every device under `pmap`; see `cutmix_jax.partners`).
    images: `(N, H, W, C)` images or `(N, T, H, W, C)` clips (one box per clip), any dtype.
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    alpha: Beta parameter (the paper's beta), > 0; may be traced.
    per_example: False is the paper (one lam and one box per batch); True draws an independent
      lam and box for each image.
    num_classes: K, for integer labels.
    masks: optional dense targets `(N, H, W)` or `(N, H, W, K)` (segmentation), mixed with the
      same boxes and partners.
    minmax: timm's `cutmix_minmax` `(low, high)`: box sides uniform in those fractions of the
      image, placed inside it, lam unused for the box; labels always follow the exact area.
    correct_lam: True (the official code) weighs the partner's label by the exact clipped box
      area; False by the sampled `1 - lam` (timm's `correct_lam=False`).
    partners: 'global' (the paper: one draw for the whole batch, across devices) or 'device'.
    axis_name: the `pmap` / `shard_map` axis of the batch, if any.
    return_info: also return a `MixInfo` (partners, lam, box, ratio).

  Returns:
    `(mixed_images, mixed_labels)`, then `mixed_masks` if `masks` was given, then the `MixInfo`
    if asked. Images keep their shape and dtype; labels are float `(N, K)`.
  """
  op_inputs.check_images(images)
  labels = op_inputs.soft_targets(labels, images.shape[0], num_classes)
  op_inputs.check_alpha(alpha)
  boxes.check_minmax(minmax)
  partners_lib.check_partners(partners)
  key = partners_lib.step_key(rng, partners, axis_name)
  key_pair, key_lam, key_box = jax.random.split(key, 3)
  pairing = partners_lib.pair_up(key_pair, images, partners, axis_name)
  height, width = images.shape[-3], images.shape[-2]
  count = pairing.size if per_example else 0  # per example: drawn for the whole batch
  lam = jax.random.beta(key_lam, alpha, alpha, (count,) if per_example else ())
  box = _draw_boxes(key_box, lam, count, height, width, minmax)
  if per_example:
    lam, box = pairing.local(lam), tuple(pairing.local(edge) for edge in box)
  mixed, ratio = paste_box(box, images, pairing.take(images), per_example)
  weight = ratio if correct_lam or minmax else 1.0 - lam
  outputs = [mixed, mix_labels(labels, pairing.take(labels), weight)]
  if masks is not None:
    box_masks = _box_masks(box, height, width, per_example)
    outputs.append(
        select_pixels(_broadcast_box(box_masks, masks, per_example), pairing.take(masks), masks)
    )
  if return_info:
    outputs.append(MixInfo(pairing.permutation, lam, box, weight))
  return tuple(outputs)


def _box_masks(box, height: int, width: int, per_example: bool):
  if per_example:
    return jax.vmap(box_mask, in_axes=(0, None, None))(box, height, width)
  return box_mask(box, height, width)


# ---------------------------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------------------------
def _blend(lam, images, partner_images):
  """`lam * x + (1 - lam) * x_partner` in float32, back in the images' dtype; integer images
  (uint8) are rounded to the nearest value, not truncated."""
  mixed = lam * images.astype(jnp.float32) + (1.0 - lam) * partner_images.astype(jnp.float32)
  if jnp.issubdtype(images.dtype, jnp.integer):
    info = jnp.iinfo(images.dtype)
    mixed = jnp.clip(jnp.round(mixed), info.min, info.max)
  return mixed.astype(images.dtype)


def mixup(
    rng,
    images,
    labels,
    *,
    alpha=1.0,
    num_classes: Optional[int] = None,
    partners: str = 'global',
    axis_name: Optional[str] = None,
    return_info: bool = False,
):
  """Mixup (Zhang et al., 2018): `lam * x + (1 - lam) * x[perm]`, labels with the same lam.

  Args:
    rng: a `jax.random` key (the same on every device under `pmap`).
    images: `(N, H, W, C)` or `(N, T, H, W, C)`, any dtype: float images keep their dtype;
      integer images (uint8) come back rounded to the nearest integer, so 1.546 becomes 2.
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    alpha: Beta parameter, > 0; may be traced.
    num_classes: K, for integer labels.
    partners: 'global' or 'device' (see `cutmix`).
    axis_name: the `pmap` / `shard_map` axis of the batch, if any.
    return_info: also return a `MixInfo` (its box is zeros).

  Returns:
    `(mixed_images, mixed_labels)` (then the `MixInfo` if asked).
  """
  op_inputs.check_images(images)
  labels = op_inputs.soft_targets(labels, images.shape[0], num_classes)
  op_inputs.check_alpha(alpha)
  partners_lib.check_partners(partners)
  key = partners_lib.step_key(rng, partners, axis_name)
  key_pair, key_lam, _ = jax.random.split(key, 3)
  pairing = partners_lib.pair_up(key_pair, images, partners, axis_name)
  lam = jax.random.beta(key_lam, alpha, alpha)
  outputs = (
      _blend(lam, images, pairing.take(images)),
      mix_labels(labels, pairing.take(labels), 1.0 - lam),
  )
  if return_info:
    zero = jnp.zeros((), jnp.int32)
    outputs += (MixInfo(pairing.permutation, lam, (zero,) * 4, 1.0 - lam),)
  return outputs


def cutout(rng, images, labels, *, size: int, num_classes: Optional[int] = None):
  """Cutout (DeVries & Taylor, 2017): zero a square at a uniformly drawn centre, per image.

  The square's edges are `clip(centre -/+ size // 2, 0, dim)` as in the Cutout reference code, so
  an unclipped square has side `2 * (size // 2)` (an odd size rounds down). Clips get one square
  per clip across time. Labels are unchanged (made float soft targets).

  Args:
    rng: a `jax.random` key.
    images: `(N, H, W, C)` or `(N, T, H, W, C)`, any dtype.
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    size: side of the square in pixels, a positive Python or NumPy integer.
    num_classes: K, for integer labels.

  Returns:
    `(images_with_holes, labels)`.
  """
  height, width = op_inputs.check_images(images)
  labels = op_inputs.soft_targets(labels, images.shape[0], num_classes)
  half = op_inputs.check_size(size) // 2
  keys = jax.random.split(rng, images.shape[0])
  holes = jax.vmap(boxes.box_around_random_centre, in_axes=(0, None, None, None, None))(
      keys, half, half, height, width
  )
  masks = _box_masks(holes, height, width, per_example=True)
  mask = _broadcast_box(masks, images, per_example=True)
  return select_pixels(mask, jnp.zeros_like(images), images), labels


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
  known = op_inputs.concrete_array(labels)
  if known is not None and known.size and not (0 <= known.min() and known.max() < num_classes):
    raise ValueError(
        f'labels must be in [0, {num_classes}); got values from {known.min()} to {known.max()}'
    )
  targets = jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)
  return ((1.0 - smoothing) * targets + smoothing / num_classes).astype(dtype)


@dataclasses.dataclass(frozen=True)
class MixConfig:
  """How a train step mixes each batch (the fields of `config.mix`).

  Attributes:
    method: one of `METHODS`: 'none', 'cutmix', 'mixup', 'cutout'.
    alpha: Beta(alpha, alpha) parameter of CutMix and Mixup (the paper's beta), > 0.
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
  partners: str = 'global'
  level: str = 'input'
  off_after_epoch: int = 0

  def __post_init__(self):
    if self.method not in METHODS:
      raise ValueError(f'unknown mix method {self.method!r}; valid methods: {", ".join(METHODS)}')
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
    fields = {f.name: get(f.name, f.default) for f in dataclasses.fields(cls)}
    fields['cutmix_minmax'] = tuple(fields['cutmix_minmax'])
    return cls(**fields)


def _mix_unconditionally(rng, images, labels, config: MixConfig, alpha, axis_name):
  """The mix of `config.method` (and the CutMix / Mixup switch); keys are folded per device
  by the ops themselves where the partners or the holes are drawn per device."""
  key_switch, key_mix = jax.random.split(rng)
  shared = dict(partners=config.partners, axis_name=axis_name)
  if config.method == 'cutout':
    holes_key = partners_lib.step_key(key_mix, 'device', axis_name)
    return cutout(holes_key, images, labels, size=config.cutout_size)
  mixup_alpha = config.mixup_alpha or alpha
  if config.method == 'mixup':
    return mixup(key_mix, images, labels, alpha=alpha, **shared)
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
  by_mixup = lambda: mixup(key_mix, images, labels, alpha=mixup_alpha, **shared)
  key_switch = partners_lib.step_key(key_switch, config.partners, axis_name)
  return jax.lax.cond(jax.random.uniform(key_switch) < config.switch_prob, by_mixup, by_cutmix)


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
