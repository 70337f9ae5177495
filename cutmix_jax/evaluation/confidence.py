"""Per-example confidences of a model: the inputs of calibration and OOD detection."""

import functools
from typing import Callable, Dict, Iterable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from cutmix_jax.evaluation import pixels
from cutmix_jax.train_step import AXIS


def _scores(logits, labels=None) -> Dict[str, jax.Array]:
  log_probs = jax.nn.log_softmax(logits.astype(jnp.float32))
  scores = {
      'confidence': jnp.exp(jnp.max(log_probs, axis=-1)),
      'predicted': jnp.argmax(log_probs, axis=-1),
  }
  if labels is not None:
    scores['true_log_prob'] = jnp.take_along_axis(log_probs, labels[:, None], axis=-1)[:, 0]
  return scores


def eval_step(state, batch, *, preprocess: Callable):
  """Max-softmax confidence, prediction and log-probability of the label of a per-device eval
  batch (pure; pmap it)."""
  variables = {'params': state.params, 'batch_stats': state.batch_stats}
  logits = state.apply_fn(variables, preprocess(batch['image']), train=False)
  return _scores(logits, batch['label'])


def unit_step(state, unit_images, *, mean: Sequence[float], std: Sequence[float]):
  """Max-softmax confidence of per-device `[0, 1]` pixel images with no labels (pure)."""
  variables = {'params': state.params, 'batch_stats': state.batch_stats}
  logits = state.apply_fn(variables, pixels.normalize(unit_images, mean, std), train=False)
  return _scores(logits)


def valid_rows(batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
  """Host arrays `(D, B/D, ...)` with a bool 'mask' flattened to `(B', ...)`: the padding rows
  (mask False) dropped, and the mask with them."""
  flat = {k: np.asarray(v).reshape((-1,) + np.shape(v)[2:]) for k, v in batch.items()}
  keep = flat.pop('mask')
  return {k: v[keep] for k, v in flat.items()}


def of_eval_split(state, dataset) -> Dict[str, np.ndarray]:
  """Host arrays `(N,)` over the eval split (padding dropped): confidence, predicted, label,
  true_log_prob."""
  p_step = jax.pmap(
      functools.partial(eval_step, preprocess=dataset.eval_preprocess), axis_name=AXIS
  )
  rows = []
  for batch in dataset.eval_batches():
    scores = jax.device_get(p_step(state, batch))
    rows.append(valid_rows({**scores, 'label': batch['label'], 'mask': batch['mask']}))
  return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}


def of_unit_batches(state, batches: Iterable, mean, std) -> np.ndarray:
  """Max-softmax confidences `(N,)` of `(images, mask)` batches: `[0, 1]` pixel images
  `(D, B/D, H, W, C)` and bool `(D, B/D)` (False on padding)."""
  p_step = jax.pmap(functools.partial(unit_step, mean=mean, std=std), axis_name=AXIS)
  kept = []
  for images, mask in batches:
    scores = jax.device_get(p_step(state, images))
    kept.append(valid_rows({'confidence': scores['confidence'], 'mask': mask})['confidence'])
  return np.concatenate(kept)
