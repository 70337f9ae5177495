"""The primitive of the CutMix family: mix a batch with its partners by a pixel mask.

CutMix, Cutout, FMix, ResizeMix and SaliencyMix differ only in *which pixels* come from the
partner and *how the label weight follows*; `mix_by_mask` does the rest for all of them: it takes
the partner's pixels where the mask says so (a boolean mask selects, a float mask blends), weighs
the partner's label by the mask's mean (exact for a boolean mask) or by a weight given, and mixes
dense targets (segmentation masks, depth) with the same pixels. Who the partners are is a
`partners.Pairing`, drawn by `partners.draw_partners`.

  pairing = cm.draw_partners(key, images)                  # a permutation of the batch
  mask = my_mask(key, images.shape[1:3])                   # (H, W) bool: True from the partner
  images, labels = cm.mix_by_mask(images, labels, mask, pairing)
"""

from typing import NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp

from cutmix_jax.ops import arguments
from cutmix_jax.ops import boxes
from cutmix_jax.ops import detection
from cutmix_jax.ops import partners as partners_lib


class MixDraw(NamedTuple):
  """What a mixing op drew from its key (each op's `draw_*` gives it): exactly what it used.

  Attributes:
    pairing: the partners (`partners.Pairing`; every row itself for Cutout).
    lam: the Beta draw, where the method draws one (a scalar); else None.
    box: the pasted (or, for Cutout, zeroed) box(es) `(y1, y2, x1, x2)`, half-open pixels:
      scalars for one box per batch, `(n,)` for one per image; None for a mask method.
    mask: the boolean `(H, W)` mask of a mask method (FMix); else None.
  """

  pairing: partners_lib.Pairing
  lam: Optional[jax.Array] = None
  box: Optional[tuple] = None
  mask: Optional[jax.Array] = None


def draw_partners_and_lam(
    rng,
    images,
    alpha,
    partners: str,
    axis_name: Optional[str],
    mode: str = 'batch',
    reformulate: bool = False,
):
  """The first draws of a CutMix-family call: its partners, lam ~ Beta(alpha, alpha), and a key
  for the rest (the box, the mask), all from `rng` in that order.

  `mode` (`partners.MODES`) is timm's: 'batch' draws one lam; 'elem' one per image of the whole
  drawn batch; 'pair' pairs the images two by two (each the other's partner) and draws one lam
  per pair. With `reformulate`, lam ~ Beta(alpha + 1, alpha) (FMix's reformulation). A traced
  alpha that is not > 0 gives a NaN lam, which `poison_by_lam` turns into NaN labels.

  Returns:
    `(pairing, lam, key)`.
  """
  arguments.check_static('mode', mode)  # it decides lam's shape
  partners_lib.check_mode(mode)
  valid = arguments.check_alpha(alpha)
  key_pair, key_lam, key_rest = partners_lib.draw_keys(rng, partners, axis_name)
  pairing = partners_lib.pair_up(key_pair, images, partners, axis_name, pairs=mode == 'pair')
  first = alpha + 1.0 if reformulate else alpha
  lam = jax.random.beta(key_lam, first, alpha, () if mode == 'batch' else (pairing.size,))
  return pairing, arguments.nan_unless(pairing.shared(lam), valid), key_rest


def poison_by_lam(outputs, lam, alpha):
  """An op's outputs with NaN labels if its lam is NaN, from a traced alpha out of range (a
  concrete alpha was checked: nothing to do)."""
  if arguments.concrete(alpha) is not None:
    return outputs
  return arguments.poison_labels(outputs, jnp.all(jnp.isfinite(lam)))


_SAME_WIDTH_BITS = {2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint64}


def select_pixels(mask, on_true, on_false):
  """`jnp.where(mask, on_true, on_false)` for a boolean `mask`, in `on_false`'s dtype, with
  `jnp.where`'s derivative: float pixels are selected on their raw bits (`_select_bits`)."""
  dtype = on_false.dtype
  if not jnp.issubdtype(dtype, jnp.floating) or dtype.itemsize not in _SAME_WIDTH_BITS:
    return jnp.where(mask, on_true, on_false).astype(dtype)
  return _select_bits(mask, on_true.astype(dtype), on_false)


@jax.custom_jvp
def _select_bits(mask, on_true, on_false):
  """The select on the same-width unsigned integers of the pixels: exact for any float dtype.

  XLA:CPU has no native bfloat16 select and converts through float32; selecting the unsigned
  integers moves the same bytes and runs about twice as fast there (no change on GPU). A bitcast
  has no derivative, so the select carries `jnp.where`'s (`_select_bits_jvp`).
  """
  bits = _SAME_WIDTH_BITS[on_false.dtype.itemsize]
  as_bits = lambda x: jax.lax.bitcast_convert_type(x, bits)
  chosen = jnp.where(mask, as_bits(on_true), as_bits(on_false))
  return jax.lax.bitcast_convert_type(chosen, on_false.dtype)


@_select_bits.defjvp
def _select_bits_jvp(primals, tangents):
  """The derivative of `jnp.where(mask, on_true, on_false)`: linear in the pixels, so it
  transposes for reverse mode; none with respect to the boolean mask."""
  mask, on_true, on_false = primals
  _, tangent_true, tangent_false = tangents
  return _select_bits(mask, on_true, on_false), jnp.where(mask, tangent_true, tangent_false)


def blend(weight, images, partner_images):
  """`(1 - weight) * x + weight * x_partner` in float32, back in the images' dtype; integer
  images (uint8) are rounded to the nearest value, not truncated. `weight` broadcasts."""
  mixed = (1.0 - weight) * images.astype(jnp.float32) + weight * partner_images.astype(jnp.float32)
  if jnp.issubdtype(images.dtype, jnp.integer):
    info = jnp.iinfo(images.dtype)
    mixed = jnp.clip(jnp.round(mixed), info.min, info.max)
  return mixed.astype(images.dtype)


def mix_labels(labels, partner_labels, ratio):
  """`(1 - ratio) * labels + ratio * partner_labels`, ratio a scalar or `(N,)`."""
  ratio = jnp.asarray(ratio, jnp.float32)
  if ratio.ndim == 1:
    ratio = ratio[:, None]
  return ((1.0 - ratio) * labels + ratio * partner_labels).astype(labels.dtype)


def broadcast_mask(mask, like):
  """A mask `(H, W)` or `(N, H, W)` shaped to broadcast against `like`: dense targets
  `(N, H, W)`, images or dense targets `(N, H, W, C)`, or clips `(N, T, H, W, C)`."""
  mask = mask[None] if mask.ndim == 2 else mask
  if like.ndim == 5:
    mask = mask[:, None]
  return mask[..., None] if like.ndim >= 4 else mask


def check_mask(mask, images) -> None:
  """Raises ValueError unless `mask` is a boolean or float `(H, W)` or `(N, H, W)` for these
  images, a float one in [0, 1]; returns its validity (`arguments.check_unit_values`)."""
  height, width = images.shape[-3], images.shape[-2]
  shape = jnp.shape(mask)
  if shape not in ((height, width), (images.shape[0], height, width)):
    raise ValueError(
        f'mask must be (H, W) = {(height, width)} or (N, H, W) = '
        f'{(images.shape[0], height, width)} for images of shape {images.shape}; got {shape}'
    )
  if mask.dtype == jnp.bool_:
    return True
  if not jnp.issubdtype(mask.dtype, jnp.floating):
    raise ValueError(
        f"mask must be boolean (True: the partner's pixel) or float in [0, 1] (its weight); "
        f'got {mask.dtype}: pass mask.astype(bool) for a selection'
    )
  return arguments.check_unit_values('a float mask', mask)


def _check_extras(extras, images) -> None:
  for extra in extras:
    if detection.is_geometric(extra):
      raise ValueError(
          'boxes and keypoints follow a rectangular paste only (cutmix, saliencymix); an '
          'arbitrary mask cannot say where an object went'
      )
    if extra.shape[:3] != images.shape[:1] + images.shape[-3:-1]:
      raise ValueError(
          f'dense targets must be (N, H, W[, K]) like the images {images.shape}; got '
          f'{extra.shape}'
      )


def mask_weight(mask) -> jax.Array:
  """The share of pixels taken from the partner: the mask's mean, a scalar or `(N,)`; for a
  boolean mask the count over `H * W`, rounded once (as `boxes.box_area_ratio`)."""
  mask = jnp.asarray(mask)
  if mask.dtype == jnp.bool_:
    count = jnp.sum(mask.astype(jnp.int32), axis=(-2, -1))
    return count.astype(jnp.float32) / (mask.shape[-2] * mask.shape[-1])
  return jnp.mean(mask.astype(jnp.float32), axis=(-2, -1))


def _follow(mask, values, partner_values):
  """`values` with the partner's where `mask` is True (bool) or blended by it (float)."""
  if mask.dtype == jnp.bool_:
    return select_pixels(broadcast_mask(mask, values), partner_values, values)
  if not jnp.issubdtype(values.dtype, jnp.floating):
    raise ValueError(
        f'a soft (float) mask blends pixels, and {values.dtype} values cannot be blended: pass '
        'a boolean mask, or dense targets as float (one-hot) maps'
    )
  return blend(broadcast_mask(mask, values), values, partner_values)


def mix_by_mask(
    images,
    labels,
    mask,
    pairing: partners_lib.Pairing,
    *extras,
    weight=None,
    num_classes: Optional[int] = None,
    partner_images=None,
):
  """Takes each image's pixels from its partner where `mask` says so, and mixes the labels.

  Args:
    images: `(N, H, W, C)` images or `(N, T, H, W, C)` clips (the mask is the same over time),
      any dtype (kept).
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    mask: where the partner's pixels go, `(H, W)` for the whole batch or `(N, H, W)` per image:
      boolean (True: the partner's pixel) or float in [0, 1] (the partner's weight per pixel);
      an integer mask is refused, a float one outside [0, 1] raises (traced: NaN labels).
    pairing: the partners, from `draw_partners` (under `pmap` / `shard_map` the mask and the
      arrays are this device's share).
    *extras: dense targets `(N, H, W)` or `(N, H, W, K)` (segmentation, depth) that follow the
      same pixels; integer ones need a boolean mask.
    weight: the partner's label weight in [0, 1], a scalar or `(N,)`; None: the mask's mean
      (for a boolean mask, the exact share of pasted pixels).
    num_classes: K, for integer labels.
    partner_images: what goes into the masked pixels instead of the partners' own images
      (ResizeMix pastes a resized partner); the same shape as `images`.

  Returns:
    `(mixed_images, mixed_labels, *mixed_extras)`: images and extras keep their shapes and
    dtypes; labels are float `(N, K)`.
  """
  arguments.check_images(images)
  mask = jnp.asarray(mask)
  valid = [check_mask(mask, images)]
  if weight is not None:
    valid.append(arguments.check_unit_values('weight', weight))
  mixed = mix_with_mask(
      images,
      labels,
      mask,
      pairing,
      *extras,
      weight=weight,
      num_classes=num_classes,
      partner_images=partner_images,
  )
  return arguments.poison_labels(mixed, *valid)


def mix_with_mask(
    images,
    labels,
    mask,
    pairing: partners_lib.Pairing,
    *extras,
    weight=None,
    num_classes: Optional[int] = None,
    partner_images=None,
):
  """`mix_by_mask` for the package's own ops, whose masks and weights are in [0, 1] by
  construction: the same mix without the checks of their values."""
  labels = arguments.soft_targets(labels, images.shape[0], num_classes)
  _check_extras(extras, images)
  partner_images = pairing.take(images) if partner_images is None else partner_images
  weight = mask_weight(mask) if weight is None else weight
  mixed_images = (
      _follow(mask, images, partner_images)
      if mask.dtype == jnp.bool_
      else blend(broadcast_mask(mask, images), images, partner_images)
  )
  mixed = [mixed_images, mix_labels(labels, pairing.take(labels), weight)]
  mixed += [_follow(mask, extra, pairing.take(extra)) for extra in extras]
  return tuple(mixed)


def box_masks(box, height: int, width: int):
  """The boolean mask(s) of `box`: `(H, W)` for scalar edges, `(n, H, W)` for `(n,)` edges."""
  if jnp.ndim(box[0]):
    return jax.vmap(boxes.box_mask, in_axes=(0, None, None))(box, height, width)
  return boxes.box_mask(box, height, width)


def paste_rectangle(
    images,
    labels,
    box,
    pairing: partners_lib.Pairing,
    extras: Sequence,
    *,
    weight=None,
    partner_images=None,
    min_visible: float = detection.MIN_VISIBLE,
):
  """`mix_by_mask` with the rectangle `box` (scalars, or `(n,)` per image; `boxes.Box`), the
  label weight its exact area unless given; boxes and keypoints among the `extras` follow the
  paste geometrically (`detection`), dense maps the same pixels."""
  height, width = images.shape[-3], images.shape[-2]
  mask = box_masks(box, height, width)
  weight = boxes.box_area_ratio(box, height, width) if weight is None else weight
  dense = [extra for extra in extras if not detection.is_geometric(extra)]
  mixed = mix_with_mask(
      images, labels, mask, pairing, *dense, weight=weight, partner_images=partner_images
  )
  images, labels, dense_mixed = mixed[0], mixed[1], iter(mixed[2:])
  outputs = [
      detection.paste_geometric(extra, pairing, box, min_visible)
      if detection.is_geometric(extra)
      else next(dense_mixed)
      for extra in extras
  ]
  return (images, labels, *outputs)
