"""TransMix (Chen et al., CVPR 2022): CutMix whose label weight comes from the model's attention.

The images are mixed as `cutmix` (mode 'batch'; with `mixup_prob`, a batch is mixed by Mixup
instead, as DeiT's switch). After the forward pass, the partner's label weight of a CutMix batch
becomes the mean of the pasted area's share (CutMix's own weight) and the share of the class
token's attention that falls on the pasted patches, as the official code computes it: a patch
counts as pasted when its top-left pixel lies in the box (PyTorch's nearest resize of the box
mask to the patch grid). Mixup batches, and batches that `prob` leaves unmixed, keep their
labels. The op is `cutmix_or_mixup` itself; `relabel` is the part after the forward pass, which
the train step runs with the model's `cutmix_jax.models.vit.cls_attention`.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp

from cutmix_jax.ops import boxes
from cutmix_jax.ops import switching


@dataclasses.dataclass(frozen=True)
class TransMixSettings(switching.CutMixSettings):
  """TransMix's own settings (`config.mix.transmix`): CutMix's, with one box per batch (the
  official code mixes per batch only)."""

  def __post_init__(self):
    super().__post_init__()
    if self.mode != 'batch':
      raise ValueError(
          f"transmix mixes with one box per batch (mode 'batch'); got mode={self.mode!r}"
      )


def patch_mask(box, height: int, width: int, grid: int) -> jax.Array:
  """`(grid * grid,)` booleans, row-major: the patches that count as pasted, those whose top-left
  pixel lies in `box = (y1, y2, x1, x2)` of an `H x W` image (the official code's nearest
  resize of the box mask)."""
  y1, y2, x1, x2 = box
  rows = jnp.arange(grid) * height // grid
  cols = jnp.arange(grid) * width // grid
  inside_rows = (rows >= y1) & (rows < y2)
  inside_cols = (cols >= x1) & (cols < x2)
  return (inside_rows[:, None] & inside_cols[None, :]).reshape(-1)


def attention_share(attention, pasted) -> jax.Array:
  """`(N,)`: the share of each image's class-token attention `(N, P)` on the `pasted` patches."""
  attention = attention.astype(jnp.float32)
  return jnp.sum(attention * pasted, axis=-1) / jnp.sum(attention, axis=-1)


def transmix_targets(targets, mixed, used_weight, area, share) -> jax.Array:
  """The TransMix targets `(1 - lam) y_own + lam y_partner`, `lam = (area + share) / 2`.

  Args:
    targets: each image's own soft targets `(N, K)`.
    mixed: CutMix's targets `(1 - used_weight) y_own + used_weight y_partner` `(N, K)`, from
      which the partner's are recovered (under global partners they live on other devices).
    used_weight: the partner's weight in `mixed` (the box's area, or 1 - lam without
      `correct_lam`).
    area: the pasted box's share of the image (the official code's `lam0`).
    share: the partner's share of the attention `(N,)` (`attention_share`).
  """
  lam = (area + share) / 2.0
  safe = jnp.where(used_weight > 0, used_weight, 1.0)
  partner_minus_own = (mixed - targets) / safe
  relabeled = targets + lam[:, None] * partner_minus_own
  return jnp.where(used_weight > 0, relabeled, targets)  # an empty box pasted nothing


def relabel(rng, images, targets, mixed, attention, *, config, prob, axis_name=None):
  """The labels of a batch that `mix_batch(rng, images, targets, config=config, prob=prob)`
  mixed into `mixed`, given the model's class-token attention `(N, P)` on the mixed images.

  Returns:
    `(N, K)` targets: TransMix's on a CutMix batch; `mixed` as it is on a Mixup batch or an
    unmixed one.
  """
  settings = config.settings_of(config.method)
  applied, key_mix = switching.batch_is_mixed(rng, prob, config.partners, axis_name)
  by_mixup, _ = switching.mixup_chosen(key_mix, settings.mixup_prob, config.partners, axis_name)
  draw = switching.draw_cutmix_or_mixup(
      key_mix,
      images,
      alpha=config.alpha,
      mode='batch',
      minmax=settings.minmax,
      partners=config.partners,
      axis_name=axis_name,
  )
  height, width = images.shape[-3], images.shape[-2]
  box = draw.box(height, width)
  area = boxes.box_area_ratio(box, height, width)
  used = area if settings.correct_lam or settings.minmax else 1.0 - draw.local_lam
  grid = math.isqrt(attention.shape[-1])
  share = attention_share(jax.lax.stop_gradient(attention), patch_mask(box, height, width, grid))
  relabeled = transmix_targets(targets, mixed, used, area, share)
  return jnp.where(applied & ~by_mixup, relabeled, mixed)
