"""Robustness to FGSM (Goodfellow et al., 2015), as the paper measures it (Sec. 4.4, eps 8/255).

The perturbation is made in `[0, 1]` pixel units, before normalization, and the image clipped to
`[0, 1]`: `x_adv = clip(x + eps * sign(d loss / d x), 0, 1)` with the cross-entropy of the true
label and the model in eval mode.
"""

import functools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cutmix_jax.evaluation import pixels
from cutmix_jax.train_step import AXIS

EPSILONS = (1 / 255, 2 / 255, 4 / 255, 8 / 255)


def fgsm_images(logits_fn: Callable, unit_images, labels, epsilon) -> jax.Array:
  """The FGSM images of `[0, 1]` pixel images for `logits_fn(unit_images) -> (N, K)`."""

  def loss(images):
    logits = logits_fn(images).astype(jnp.float32)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).sum()

  step = jnp.sign(jax.grad(loss)(unit_images))
  return jnp.clip(unit_images + epsilon * step, 0.0, 1.0)


def fgsm_step(
    state, batch, *, mean: Sequence[float], std: Sequence[float], epsilons: Sequence[float]
):
  """Correct predictions under FGSM at each epsilon, summed over the unmasked examples of all
  devices (pure; pmap it over `AXIS`). Returns `{'correct': (E,), 'count': ()}`."""
  variables = {'params': state.params, 'batch_stats': state.batch_stats}
  logits_fn = lambda unit: state.apply_fn(variables, pixels.normalize(unit, mean, std), train=False)
  unit = pixels.to_unit(batch['image'], mean, std)
  mask = batch['mask']
  correct = []
  for epsilon in epsilons:
    adversarial = fgsm_images(logits_fn, unit, batch['label'], epsilon)
    predicted = jnp.argmax(logits_fn(adversarial), axis=-1)
    correct.append(jnp.sum((predicted == batch['label']) & mask))
  sums = {'correct': jnp.stack(correct), 'count': jnp.sum(mask)}
  return jax.lax.psum(sums, AXIS)


def measure(state, dataset, epsilons: Sequence[float] = EPSILONS) -> dict:
  """Top-1 accuracy (%) of the replicated `state` under FGSM at each epsilon, over the eval
  split (each example once)."""
  p_step = jax.pmap(
      functools.partial(fgsm_step, mean=dataset.mean, std=dataset.std, epsilons=tuple(epsilons)),
      axis_name=AXIS,
  )
  totals = None
  for batch in dataset.eval_batches():
    sums = jax.device_get(p_step(state, batch))
    totals = sums if totals is None else jax.tree.map(np.add, totals, sums)
  correct, count = np.asarray(totals['correct'])[0], float(np.asarray(totals['count'])[0])
  return {
      'epsilons': [float(e) for e in epsilons],
      'epsilons_255': [float(e * 255) for e in epsilons],
      'accuracy': (100.0 * correct / count).tolist(),
  }
