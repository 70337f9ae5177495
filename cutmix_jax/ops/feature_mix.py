"""Feature-level CutMix (paper §4.1): CutMix applied to the feature maps entering a random stage.

A train step draws one `FeatureMix` request per minibatch and passes it to the model; the model
calls `mix_at_stage` at every stage boundary (0 = the input image, k = after stage k). Only the
chosen stage mixes, with the same partners and lam at any depth and a box drawn in that feature
map's own coordinates by the input-level box sampler. The stage is a traced value, so choosing
another stage does not retrace.
"""

from typing import Optional

import flax
import jax
import jax.numpy as jnp

from cutmix_jax.ops import boxes
from cutmix_jax.ops import cutmix as cutmix_lib
from cutmix_jax.ops import mask_mix
from cutmix_jax.ops import mix_config
from cutmix_jax.ops import partners

COLLECTION = 'feature_mix'  # the mutable collection where a mixing model sows the label ratio


@flax.struct.dataclass
class FeatureMix:
  """A request to CutMix the features entering `stage`.

  Attributes:
    stage: int32 scalar; 0 mixes the input image, k mixes the output of stage k.
    permutation: `(N,)` partner indices.
    lam: scalar Beta draw; the box side is `floor(dim * sqrt(1 - lam))` in the stage's coordinates.
    box_key: key of the box position.
  """

  stage: jax.Array
  permutation: jax.Array
  lam: jax.Array
  box_key: jax.Array

  @classmethod
  def draw(
      cls, rng, images, alpha: float, num_stages: int, axis_name: Optional[str] = None
  ) -> 'FeatureMix':
    """Draws a request whose stage is uniform over `0..num_stages`, for this device's `images`
    (under `pmap` / `shard_map` over `axis_name`, each device its own, from the same `rng`).

    The partners, lam and box key are `cutmix_lib.draw_cutmix(mix_key, images,
    partners='device', axis_name=axis_name)` with `stage_key, mix_key = jax.random.split(rng)`:
    the very draw of input-level CutMix, so at stage 0 the result equals `cutmix(mix_key,
    images, ..., partners='device', axis_name=axis_name)`.
    """
    stage_key, mix_key = jax.random.split(rng)
    draw = cutmix_lib.draw_cutmix(
        mix_key, images, alpha=alpha, partners='device', axis_name=axis_name
    )
    stage_key = partners.step_key(stage_key, 'device', axis_name)
    stage = jax.random.randint(stage_key, (), 0, num_stages + 1)
    return cls(
        stage=stage, permutation=draw.pairing.permutation, lam=draw.lam, box_key=draw.box_key
    )

  def box(self, height: int, width: int) -> boxes.Box:
    """The box in a map of `height x width` (the stage's own coordinates)."""
    pairing = partners.Pairing(self.permutation, self.permutation, self.permutation.shape[0])
    return cutmix_lib.CutMixDraw(pairing, self.lam, self.box_key).box(height, width)


def mix_at_stage(request: Optional[FeatureMix], stage_index: int, features, ratio):
  """Mixes `features` (N, h, w, c) if `request` chose `stage_index`; else passes them through.

  Args:
    request: the minibatch's request, or None when not mixing (then this is the identity).
    stage_index: the static index of this stage boundary.
    features: `(N, h, w, c)` feature maps entering the next stage.
    ratio: the partner's label weight so far (float32 scalar; 0 before the chosen stage).

  Returns:
    `(features, ratio)`, mixed and updated where this is the chosen stage.
  """
  if request is None:
    return features, ratio

  def mix(operands):
    maps, _ = operands
    box = request.box(maps.shape[1], maps.shape[2])
    mask = mask_mix.broadcast_mask(mask_mix.box_masks(box, maps.shape[1], maps.shape[2]), maps)
    mixed = mask_mix.select_pixels(mask, maps[request.permutation], maps)
    return mixed, boxes.box_area_ratio(box, maps.shape[1], maps.shape[2])

  return jax.lax.cond(
      request.stage == stage_index,
      mix,
      lambda operands: operands,
      (features, jnp.asarray(ratio, jnp.float32)),
  )


def draw_request(
    rng,
    images,
    mix: mix_config.MixConfig,
    num_stages: int,
    prob=None,
    axis_name: Optional[str] = None,
):
  """The request of one minibatch for this device's `images` (`FeatureMix.draw`; `rng` the same
  on every device): switched off (stage -1) with probability `1 - prob` (default `mix.prob`;
  may be traced), per device."""
  apply_key, draw_key = jax.random.split(rng)
  request = FeatureMix.draw(draw_key, images, mix.alpha, num_stages, axis_name)
  apply_key = partners.step_key(apply_key, 'device', axis_name)
  apply = jax.random.uniform(apply_key) < (mix.prob if prob is None else prob)
  return request.replace(stage=jnp.where(apply, request.stage, -1))


def sown_ratio(updates) -> jax.Array:
  """The partner's label weight that a model sowed into `COLLECTION` while mixing."""
  return updates[COLLECTION]['ratio'][0]
