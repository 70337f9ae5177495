"""The per-device train step, written for `jax.pmap(..., axis_name=devices.AXIS)`.

Everything a step does happens on device: augmentation of the raw batch, mixing (input-level
`mix_batch`, or a feature-level request to the model), the soft-target loss, and gradients,
metrics and BatchNorm statistics averaged over the devices.
"""

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from cutmix_jax.models import vit
from cutmix_jax.ops import dispatch
from cutmix_jax.ops import feature_mix
from cutmix_jax.ops import labels as labels_lib
from cutmix_jax.ops import mask_mix
from cutmix_jax.ops import mix_config
from cutmix_jax.training import losses
from cutmix_jax.training.devices import AXIS
from cutmix_jax.training.train_state import TrainState


@dataclasses.dataclass(frozen=True)
class StepSettings:
  """Static settings of the train step (hashable, bound with functools.partial).

  Attributes:
    seed: base seed; the keys of a step derive from `fold_in(key(seed), step)`.
    num_classes: K of the one-hot targets.
    label_smoothing: spread over all classes before mixing.
    mix: how batches are mixed, at the input or (level 'feature') inside the model.
    num_stages: number of stages of the model (feature CutMix picks one of 0..num_stages).
    steps_per_epoch: steps of an epoch (for `mix.off_after_epoch`).
    loss: the train loss, a name of `losses.LOSSES`.
    bce_target_threshold: binary cross-entropy's target threshold (`losses`).
  """

  seed: int
  num_classes: int
  label_smoothing: float = 0.0
  mix: mix_config.MixConfig = mix_config.MixConfig(method='none')
  num_stages: int = 0
  steps_per_epoch: int = 1
  loss: str = 'softmax_cross_entropy'
  bce_target_threshold: float = losses.SOFT_TARGETS


def train_key(seed: int):
  """The base key of every per-step draw (augmentation, mixing)."""
  return jax.random.key(seed)


def train_loss(settings: 'StepSettings', logits, targets):
  """The mean over the batch of the train loss `settings.loss` (`losses`)."""
  if settings.loss == 'binary_cross_entropy':
    return losses.binary_cross_entropy(logits, targets, settings.bce_target_threshold).mean()
  return losses.softmax_cross_entropy(logits, targets).mean()


def _step_keys(seed: int, step):
  """The augmentation key of this device and the mixing key of the step, from (seed, step).

  Augmentation draws per device; the mixing key is the same on every device, and the mixing
  ops fold it per device themselves where they draw per device (`cutmix_jax.ops.partners`).
  """
  augment_key, mix_key = jax.random.split(jax.random.fold_in(train_key(seed), step))
  return jax.random.fold_in(augment_key, jax.lax.axis_index(AXIS)), mix_key


def _model_rngs(augment_key):
  """The model's own rng streams ('dropout': a ViT's stochastic depth), per device; a key
  folded off the augmentation key, which stays as it was."""
  return {'dropout': jax.random.fold_in(augment_key, 1)}


def _mix_prob(mix: mix_config.MixConfig, step, steps_per_epoch: int):
  """`mix.prob`, or 0 from epoch `mix.off_after_epoch` on: traced, so switching off costs no
  retrace."""
  if not mix.off_after_epoch:
    return mix.prob
  return jnp.where(step < mix.off_after_epoch * steps_per_epoch, mix.prob, 0.0)


def train_step(
    state: TrainState,
    batch,
    *,
    settings: StepSettings,
    preprocess: Callable,
    learning_rate_fn: Callable,
):
  """One SGD step on a per-device batch `{'image': (B, H, W, C), 'label': (B,)}`.

  Returns:
    `(new_state, metrics)`; metrics (loss, accuracy against the unmixed labels, learning rate,
    the probability that this step's batch was mixed) are averaged over the devices.
  """
  augment_key, mix_key = _step_keys(settings.seed, state.step)
  images = preprocess(augment_key, batch['image'])
  targets = labels_lib.one_hot(batch['label'], settings.num_classes, settings.label_smoothing)
  mix, prob = settings.mix, _mix_prob(settings.mix, state.step, settings.steps_per_epoch)
  request = None
  if mix.level == 'feature':
    request = feature_mix.draw_request(
        mix_key, images, mix, settings.num_stages, prob=prob, axis_name=AXIS
    )
  else:
    own_targets = targets
    images, targets = dispatch.mix_batch(
        mix_key, images, targets, config=mix, prob=prob, axis_name=AXIS
    )

  rngs = _model_rngs(augment_key)

  def loss_fn(params):
    variables = {'params': params, 'batch_stats': state.batch_stats}
    if mix.relabel is not None:  # TransMix: the labels weighed by the model's attention
      logits, updates = state.apply_fn(
          variables, images, train=True, mutable=['batch_stats', vit.ATTENTION], rngs=rngs
      )
      relabeled = mix.relabel(
          mix_key,
          images,
          own_targets,
          targets,
          vit.cls_attention(updates),
          config=mix,
          prob=prob,
          axis_name=AXIS,
      )
      return train_loss(settings, logits, relabeled), (logits, updates)
    if request is None:
      logits, updates = state.apply_fn(
          variables, images, train=True, mutable=['batch_stats'], rngs=rngs
      )
      return train_loss(settings, logits, targets), (logits, updates)
    logits, updates = state.apply_fn(
        variables,
        images,
        train=True,
        feature_mix=request,
        mutable=['batch_stats', feature_mix.COLLECTION],
        rngs=rngs,
    )
    partner_targets = targets[request.permutation]
    mixed = mask_mix.mix_labels(targets, partner_targets, feature_mix.sown_ratio(updates))
    return train_loss(settings, logits, mixed), (logits, updates)

  (loss, (logits, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  grads = jax.lax.pmean(grads, AXIS)
  batch_stats = jax.lax.pmean(updates.get('batch_stats', state.batch_stats), AXIS)
  metrics = {
      'loss': loss,
      'accuracy': jnp.mean(jnp.argmax(logits, -1) == batch['label']),
      'learning_rate': learning_rate_fn(state.step),
      'mix_prob': jnp.asarray(0.0 if mix.method == 'none' else prob, jnp.float32),
  }
  new_state = state.apply_gradients(grads=grads, batch_stats=batch_stats)
  return new_state, jax.lax.pmean(metrics, AXIS)
