"""`mix_batch`: the one call a train step makes to mix a batch, as its `MixConfig` says."""

import jax

from cutmix_jax.ops import arguments
from cutmix_jax.ops import methods
from cutmix_jax.ops import switching
from cutmix_jax.ops.mix_config import MixConfig


def mix_batch(
    rng,
    images,
    labels,
    *extras,
    config,
    num_classes=None,
    prob=None,
    alpha=None,
    axis_name=None,
):
  """Mixes one batch as `config` says: the one call a train step makes.

  With probability `prob` (default `config.prob`) the batch is mixed by `config.method`,
  otherwise it is returned as it is (bit for bit). The decision is drawn on device, so it does
  not retrace; with partners='global' it is the same on every device.

  Args:
    rng: a `jax.random` key (the same on every device under `pmap`).
    images: `(N, H, W, C)` or `(N, T, H, W, C)`.
    labels: soft targets `(N, K)`, or integer labels `(N,)` with `num_classes`.
    *extras: targets that follow the mix, as the method's op takes them (dense maps; boxes and
      keypoints where the method pastes a rectangle).
    config: a `MixConfig` (static under `jit` as it is, an argument or closed over), or a
      ConfigDict / dict with its fields (build the `MixConfig` outside `jit`); by keyword.
    num_classes: K, for integer labels.
    prob: overrides `config.prob`, in [0, 1]; may be traced (a schedule, `off_after_epoch`).
    alpha: overrides `config.alpha`, > 0; may be traced.
    axis_name: the `pmap` / `shard_map` axis of the batch, if any.

  Returns:
    `(images, labels, *extras)` mixed or not, with the shapes and dtypes of the inputs (boxes
    and keypoints `(N, 2M)`, as a paste gives them); labels are float `(N, K)`. Under `jit`, a
    traced prob, alpha or label out of range makes them NaN.

  Raises:
    ValueError: for a config with level='feature' (the model mixes then; see `feature_mix`).
  """
  for extra in extras:
    if isinstance(extra, dict) or hasattr(extra, 'method'):  # a config given by position
      raise TypeError('mix_batch takes the config by keyword: mix_batch(key, x, y, config=...)')
  config = MixConfig.from_any(config)
  if config.level != 'input':
    raise ValueError(
        "mix_batch mixes images; a config with level='feature' is carried out by "
        'the model (cutmix_jax.ops.feature_mix)'
    )
  arguments.check_images(images)
  labels = arguments.soft_targets(labels, images.shape[0], num_classes)
  prob = config.prob if prob is None else prob
  alpha = config.alpha if alpha is None else alpha
  valid = arguments.check_range('prob', prob, 0.0, 1.0)
  known_prob = arguments.concrete(prob)
  if config.method == 'none' or known_prob == 0.0:
    return methods.unmixed(images, labels, extras)
  apply, key_mix = switching.batch_is_mixed(rng, prob, config.partners, axis_name)
  mix = lambda: methods.apply_method(key_mix, images, labels, extras, config, alpha, axis_name)
  if known_prob == 1.0:
    return mix()
  mixed = jax.lax.cond(apply, mix, lambda: methods.unmixed(images, labels, extras))
  return arguments.poison_labels(mixed, valid)
