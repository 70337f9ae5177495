"""On-device mixing ops: CutMix, Mixup and Cutout as pure functions of a `jax.random` key.

Everything here is shape-static and branch-free on traced values, so it runs unchanged under
`jax.jit`, `jax.vmap` and `jax.pmap`. The box is a boolean mask built from broadcast index
comparisons and blending is `jnp.where`: no host sync, no dynamic shapes.

Conventions: images are NHWC arrays of any float dtype (preserved); labels are soft targets
`(N, K)` (see `one_hot`).
"""

import dataclasses
from typing import Any, Tuple

import jax
import jax.numpy as jnp

Box = Tuple[jax.Array, jax.Array, jax.Array, jax.Array]

METHODS = ('none', 'cutmix', 'mixup', 'cutout')
LEVELS = ('input', 'feature')  # where CutMix mixes: the images, or a random stage's features


# ---------------------------------------------------------------------------------------------
# Boxes
# ---------------------------------------------------------------------------------------------
def _box_around_random_centre(rng, half_height, half_width, height: int, width: int) -> Box:
  """A box with the given half sides around a centre drawn uniformly from the pixel grid.

  Edges are `clip(centre -/+ half, 0, dim)`, so boxes near the border are cut off by the image.
  """
  key_y, key_x = jax.random.split(rng)
  centre_y = jax.random.randint(key_y, (), 0, height)
  centre_x = jax.random.randint(key_x, (), 0, width)
  y1 = jnp.clip(centre_y - half_height, 0, height)
  y2 = jnp.clip(centre_y + half_height, 0, height)
  x1 = jnp.clip(centre_x - half_width, 0, width)
  x2 = jnp.clip(centre_x + half_width, 0, width)
  return tuple(v.astype(jnp.int32) for v in (y1, y2, x1, x2))


def sample_box(rng: jax.Array, lam, height: int, width: int) -> Box:
  """Samples the CutMix box exactly as the official code's `rand_bbox`.

  `cut = sqrt(1 - lam)`; the sides are `floor(H * cut)` and `floor(W * cut)`; the centre is
  uniform over the integer pixel grid; the corners are clipped to the image.

  Args:
    rng: a `jax.random` key.
    lam: scalar in [0, 1], the share of the image that is kept before clipping.
    height: image height H (static).
    width: image width W (static).

  Returns:
    `(y1, y2, x1, x2)` as int32 scalars; the box covers rows `y1 <= y < y2`, columns
    `x1 <= x < x2`.
  """
  cut = jnp.sqrt(1.0 - jnp.asarray(lam, jnp.float32))
  side_h = jnp.floor(height * cut).astype(jnp.int32)
  side_w = jnp.floor(width * cut).astype(jnp.int32)
  return _box_around_random_centre(rng, side_h // 2, side_w // 2, height, width)


def box_mask(box: Box, height: int, width: int) -> jax.Array:
  """The boolean `(H, W)` mask that is True inside `box = (y1, y2, x1, x2)`."""
  y1, y2, x1, x2 = box
  rows = jnp.arange(height)[:, None]
  cols = jnp.arange(width)[None, :]
  return (rows >= y1) & (rows < y2) & (cols >= x1) & (cols < x2)


def box_area_ratio(box: Box, height: int, width: int) -> jax.Array:
  """The exact area of `box` divided by `H * W`, as float32."""
  y1, y2, x1, x2 = box
  return ((y2 - y1) * (x2 - x1)).astype(jnp.float32) / (height * width)


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


# ---------------------------------------------------------------------------------------------
# Validation (static shapes and Python-level hyper-parameters only)
# ---------------------------------------------------------------------------------------------
def check_images(images) -> None:
  """Raises ValueError unless `images` is 4-D (N, H, W, C); models call it too."""
  if jnp.ndim(images) != 4:
    raise ValueError(f'images must be a 4-D NHWC array (N, H, W, C); got shape {jnp.shape(images)}')


def _check_images_and_labels(images, labels) -> None:
  check_images(images)
  if jnp.ndim(labels) != 2:
    raise ValueError(
        f'labels must be soft targets of shape (N, K) (use one_hot); got shape {jnp.shape(labels)}'
    )
  if jnp.shape(labels)[0] != jnp.shape(images)[0]:
    raise ValueError(
        f'labels batch size {jnp.shape(labels)[0]} differs from images batch size '
        f'{jnp.shape(images)[0]}; labels must be (N, K) with N = images.shape[0]'
    )


def _check_alpha(alpha) -> None:
  if not alpha > 0:
    raise ValueError(f'alpha must be > 0 (the Beta(alpha, alpha) parameter); got {alpha}')


# ---------------------------------------------------------------------------------------------
# CutMix
# ---------------------------------------------------------------------------------------------
def draw_partners_and_lam(rng, batch_size: int, alpha: float, per_example: bool = False):
  """Draws what a CutMix batch shares across layers: partners, lam and the box key.

  Returns:
    `(permutation (N,) int32, lam (scalar, or (N,) if per_example), box_key)`. Input-level
    `cutmix` and feature-level mixing (`cutmix_jax.feature_mix`) both start here, so the same key
    gives the same partners and lam at any layer.
  """
  key_perm, key_lam, key_box = jax.random.split(rng, 3)
  permutation = jax.random.permutation(key_perm, batch_size)
  shape = (batch_size,) if per_example else ()
  lam = jax.random.beta(key_lam, alpha, alpha, shape)
  return permutation, lam, key_box


def paste_partner_box(box_key, lam, images, permutation, per_example: bool = False):
  """Replaces a box of each image by the same box of its partner `images[permutation]`.

  Args:
    box_key: key for the box position.
    lam: scalar (one box for the batch) or `(N,)` (one box per image, with per_example=True).
    images: `(N, H, W, C)`.
    permutation: `(N,)` int partner indices.
    per_example: whether `lam` holds one value per image.

  Returns:
    `(mixed_images, ratio)`: ratio is the exact pasted area over `H * W`, a scalar or `(N,)`.
  """
  _, height, width, _ = images.shape
  if per_example:
    keys = jax.random.split(box_key, images.shape[0])
    boxes = jax.vmap(sample_box, in_axes=(0, 0, None, None))(keys, lam, height, width)
    masks = jax.vmap(box_mask, in_axes=(0, None, None))(boxes, height, width)[..., None]
  else:
    boxes = sample_box(box_key, lam, height, width)
    masks = box_mask(boxes, height, width)[None, :, :, None]
  mixed = select_pixels(masks, images[permutation], images)
  return mixed, box_area_ratio(boxes, height, width)


def mix_labels(labels, permutation, ratio):
  """`(1 - ratio) * labels + ratio * labels[permutation]`, ratio scalar or `(N,)`."""
  ratio = jnp.asarray(ratio, jnp.float32)
  if ratio.ndim == 1:
    ratio = ratio[:, None]
  mixed = (1.0 - ratio) * labels + ratio * labels[permutation]
  return mixed.astype(labels.dtype)


def cutmix(rng, images, labels, *, alpha: float = 1.0, per_example: bool = False):
  """CutMix (Yun et al., 2019): paste a box from a partner image, mix labels by its area.

  lam ~ Beta(alpha, alpha); partners are a random permutation of the batch (an image may be its
  own partner); the label weight on the partner is the exact clipped box area over `H * W`, not
  the sampled lam.

  Args:
    rng: a `jax.random` key.
    images: `(N, H, W, C)` float array.
    labels: `(N, K)` soft targets.
    alpha: Beta parameter (the paper's beta), > 0.
    per_example: False is the paper (one lam and one box per batch); True draws an independent
      lam and box for each image.

  Returns:
    `(mixed_images, mixed_labels)` with the shapes and dtypes of the inputs.
  """
  _check_images_and_labels(images, labels)
  _check_alpha(alpha)
  permutation, lam, box_key = draw_partners_and_lam(rng, images.shape[0], alpha, per_example)
  mixed, ratio = paste_partner_box(box_key, lam, images, permutation, per_example)
  return mixed, mix_labels(labels, permutation, ratio)


# ---------------------------------------------------------------------------------------------
# Baselines
# ---------------------------------------------------------------------------------------------
def mixup(rng, images, labels, *, alpha: float = 1.0):
  """Mixup (Zhang et al., 2018): `lam * x + (1 - lam) * x[perm]`, labels with the same lam.

  Args:
    rng: a `jax.random` key.
    images: `(N, H, W, C)` float array.
    labels: `(N, K)` soft targets.
    alpha: Beta parameter, > 0.

  Returns:
    `(mixed_images, mixed_labels)` with the shapes and dtypes of the inputs.
  """
  _check_images_and_labels(images, labels)
  _check_alpha(alpha)
  permutation, lam, _ = draw_partners_and_lam(rng, images.shape[0], alpha)
  mixed = lam * images.astype(jnp.float32) + (1.0 - lam) * images[permutation].astype(jnp.float32)
  return mixed.astype(images.dtype), mix_labels(labels, permutation, 1.0 - lam)


def cutout(rng, images, labels, *, size: int):
  """Cutout (DeVries & Taylor, 2017): zero a square at a uniformly drawn centre, per image.

  The square's edges are `clip(centre -/+ size // 2, 0, dim)` as in the Cutout reference code, so
  an unclipped square has side `2 * (size // 2)` (an odd size rounds down). Labels are unchanged.

  Args:
    rng: a `jax.random` key.
    images: `(N, H, W, C)` float array.
    labels: `(N, K)` soft targets, returned as they are.
    size: side of the square in pixels, >= 1.

  Returns:
    `(images_with_holes, labels)`.
  """
  _check_images_and_labels(images, labels)
  if not (isinstance(size, int) and size >= 1):
    raise ValueError(f'size must be a positive integer number of pixels; got {size!r}')
  batch, height, width, _ = images.shape
  keys = jax.random.split(rng, batch)
  boxes = jax.vmap(_box_around_random_centre, in_axes=(0, None, None, None, None))(
      keys, size // 2, size // 2, height, width
  )
  holes = jax.vmap(box_mask, in_axes=(0, None, None))(boxes, height, width)[..., None]
  return select_pixels(holes, jnp.zeros_like(images), images), labels


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
  Apply it before mixing, so that mixing stays linear in the targets.
  """
  check_label_smoothing(smoothing)
  targets = jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)
  return ((1.0 - smoothing) * targets + smoothing / num_classes).astype(dtype)


@dataclasses.dataclass(frozen=True)
class MixConfig:
  """How a train step mixes each batch.

  Attributes:
    method: one of `METHODS`: 'none', 'cutmix', 'mixup', 'cutout'.
    alpha: Beta(alpha, alpha) parameter of CutMix and Mixup (the paper's beta), > 0.
    prob: probability that a batch is mixed at all (the official code's `cutmix_prob`).
    switch_prob: with method 'cutmix', the probability that a mixed batch uses Mixup instead
      (timm's CutMix/Mixup switch); 0 is pure CutMix.
    per_example: CutMix with one lam and box per image instead of one per batch.
    cutout_size: side of the Cutout square in pixels.
    level: one of `LEVELS`. 'input' mixes the images (`mix_batch`); 'feature' is the paper's
      feature-level CutMix (section 4.1): the model CutMixes the feature maps entering a random
      stage (`cutmix_jax.feature_mix`), one box per batch, with `alpha` and `prob`.
  """

  method: str = 'cutmix'
  alpha: float = 1.0
  prob: float = 1.0
  switch_prob: float = 0.0
  per_example: bool = False
  cutout_size: int = 16
  level: str = 'input'

  def __post_init__(self):
    if self.method not in METHODS:
      raise ValueError(f'unknown mix method {self.method!r}; valid methods: {", ".join(METHODS)}')
    if self.level not in LEVELS:
      raise ValueError(f'unknown mix level {self.level!r}; valid levels: {", ".join(LEVELS)}')
    if self.level == 'feature' and (self.method, self.per_example, self.switch_prob) != (
        'cutmix',
        False,
        0.0,
    ):
      raise ValueError(
          "level='feature' is CutMix with one box per batch: it needs method='cutmix', "
          f'per_example=False and switch_prob=0; got method={self.method!r}, '
          f'per_example={self.per_example}, switch_prob={self.switch_prob}'
      )
    _check_alpha(self.alpha)
    for name in ('prob', 'switch_prob'):
      value = getattr(self, name)
      if not 0.0 <= value <= 1.0:
        raise ValueError(f'{name} must be in [0, 1]; got {value}')
    if not (isinstance(self.cutout_size, int) and self.cutout_size >= 1):
      raise ValueError(f'cutout_size must be a positive integer; got {self.cutout_size!r}')

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


def _mix_unconditionally(rng, images, labels, config: MixConfig):
  key_switch, key_mix = jax.random.split(rng)
  if config.method == 'cutout':
    return cutout(key_mix, images, labels, size=config.cutout_size)
  if config.method == 'mixup':
    return mixup(key_mix, images, labels, alpha=config.alpha)
  mixed_by_cutmix = lambda: cutmix(
      key_mix, images, labels, alpha=config.alpha, per_example=config.per_example
  )
  if config.switch_prob == 0.0:
    return mixed_by_cutmix()
  use_mixup = jax.random.uniform(key_switch) < config.switch_prob
  return jax.lax.cond(
      use_mixup, lambda: mixup(key_mix, images, labels, alpha=config.alpha), mixed_by_cutmix
  )


def mix_batch(rng, images, labels, config):
  """Mixes one batch as `config` says: the one call a train step makes.

  With probability `config.prob` the batch is mixed by `config.method`, otherwise it is returned
  as it is (bit for bit). The decision is drawn on device, so it does not retrace.

  Args:
    rng: a `jax.random` key.
    images: `(N, H, W, C)` float array.
    labels: `(N, K)` soft targets (see `one_hot`).
    config: a `MixConfig`, or a ConfigDict / dict with its fields.

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
  _check_images_and_labels(images, labels)
  if config.method == 'none' or config.prob == 0.0:
    return images, labels
  key_apply, key_mix = jax.random.split(rng)
  if config.prob == 1.0:
    return _mix_unconditionally(key_mix, images, labels, config)
  apply = jax.random.uniform(key_apply) < config.prob
  return jax.lax.cond(
      apply, lambda: _mix_unconditionally(key_mix, images, labels, config), lambda: (images, labels)
  )
