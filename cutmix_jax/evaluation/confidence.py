"""Per-example confidences of a model: the inputs of calibration and OOD detection."""

from typing import Dict, Iterable

import jax
import jax.numpy as jnp
import numpy as np

from cutmix_jax.training import eval_driver


def _scores(logits, labels=None) -> Dict[str, jax.Array]:
  log_probs = jax.nn.log_softmax(logits.astype(jnp.float32))
  scores = {
      'confidence': jnp.exp(jnp.max(log_probs, axis=-1)),
      'predicted': jnp.argmax(log_probs, axis=-1),
  }
  if labels is not None:
    scores['true_log_prob'] = jnp.take_along_axis(log_probs, labels[:, None], axis=-1)[:, 0]
  return scores


def labelled_scores(model, batch, key):
  """Max-softmax confidence, prediction and log-probability of the label of each example of a
  per-device eval batch (the per-batch work of `eval_driver`)."""
  del key
  return _scores(model.logits(batch['image']), batch['label'])


def unit_scores(model, batch, key):
  """Max-softmax confidence and prediction of per-device `[0, 1]` float images, no labels."""
  del key
  return _scores(model.logits_of_unit(batch['image']))


def of_eval_split(evaluator: eval_driver.Evaluator, state) -> Dict[str, np.ndarray]:
  """Host arrays `(N,)` over this process's eval examples: confidence, predicted, label,
  true_log_prob."""
  return eval_driver.all_rows(evaluator.rows(labelled_scores, state, keep=('label',)))


def of_unit_batches(evaluator: eval_driver.Evaluator, state, batches: Iterable) -> np.ndarray:
  """Max-softmax confidences `(N,)` of batches `{'image': [0, 1] floats (B, H, W, C),
  'mask': bool (B,)}` (False on padding)."""
  return eval_driver.all_rows(evaluator.rows(unit_scores, state, batches=batches))['confidence']
