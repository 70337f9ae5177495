"""Top-1 / top-5 error and loss over a whole eval split (the trainer's per-epoch evaluation)."""

import jax
import numpy as np


def evaluate(p_eval_step, state, dataset) -> dict:
  """Loss and top-1 / top-5 error (%) over every eval example exactly once.

  Args:
    p_eval_step: the pmapped `train_step.eval_step`.
    state: the replicated TrainState.
    dataset: a `cutmix_jax.data.Dataset`.
  """
  totals = None
  for batch in dataset.eval_batches():
    sums = p_eval_step(state, batch)
    totals = sums if totals is None else jax.tree.map(lambda a, b: a + b, totals, sums)
  totals = jax.tree.map(lambda x: float(np.asarray(x)[0]), jax.device_get(totals))
  count = totals['count']
  return {
      'eval_loss': totals['loss'] / count,
      'eval_top1_error': 100.0 * (1.0 - totals['top1_correct'] / count),
      'eval_top5_error': 100.0 * (1.0 - totals['top5_correct'] / count),
  }
