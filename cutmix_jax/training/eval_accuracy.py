"""Top-1 / top-5 error and loss over a whole eval split: the trainer's per-epoch evaluation (the
report's `evaluation.accuracy` measure runs the same function on the best and last checkpoint)."""

import jax
import jax.numpy as jnp

from cutmix_jax.training import eval_driver
from cutmix_jax.training import losses


def per_example(model: eval_driver.EvalModel, batch, key):
  """Loss and top-1 / top-5 hits of each example of a per-device eval batch."""
  del key
  logits = model.logits(batch['image'])
  labels, num_classes = batch['label'], logits.shape[-1]
  _, top5 = jax.lax.top_k(logits, min(5, num_classes))
  return {
      'loss': losses.softmax_cross_entropy(logits, jax.nn.one_hot(labels, num_classes)),
      'top1_correct': top5[:, 0] == labels,
      'top5_correct': jnp.any(top5 == labels[:, None], axis=-1),
  }


def evaluate(evaluator: eval_driver.Evaluator, state) -> dict:
  """Loss and top-1 / top-5 error (%) of the replicated `state`, each eval example once."""
  totals, count = evaluator.sums(per_example, state)
  return {
      'eval_loss': float(totals['loss']) / count,
      'eval_top1_error': 100.0 * (1.0 - float(totals['top1_correct']) / count),
      'eval_top5_error': 100.0 * (1.0 - float(totals['top5_correct']) / count),
  }
