"""Top-1 / top-5 error and loss over a whole eval split: the trainer's per-epoch evaluation, and
the report's accuracy of the best and the last checkpoint."""

from typing import List, Sequence

import jax
import jax.numpy as jnp

from cutmix_jax import train_step
from cutmix_jax.evaluation import driver
from cutmix_jax.evaluation import measure as measure_lib
from cutmix_jax.evaluation import report


def per_example(model: driver.EvalModel, batch, key):
  """Loss and top-1 / top-5 hits of each example of a per-device eval batch."""
  del key
  logits = model.logits(batch['image'])
  labels, num_classes = batch['label'], logits.shape[-1]
  _, top5 = jax.lax.top_k(logits, min(5, num_classes))
  return {
      'loss': train_step.cross_entropy(logits, jax.nn.one_hot(labels, num_classes)),
      'top1_correct': top5[:, 0] == labels,
      'top5_correct': jnp.any(top5 == labels[:, None], axis=-1),
  }


def evaluate(evaluator: driver.Evaluator, state) -> dict:
  """Loss and top-1 / top-5 error (%) of the replicated `state`, each eval example once."""
  totals, count = evaluator.sums(per_example, state)
  return {
      'eval_loss': float(totals['loss']) / count,
      'eval_top1_error': 100.0 * (1.0 - float(totals['top1_correct']) / count),
      'eval_top5_error': 100.0 * (1.0 - float(totals['top5_correct']) / count),
  }


class Accuracy:
  """Top-1 / top-5 error (%) and loss of the best and of the last checkpoint."""

  name = 'accuracy'
  title = 'accuracy of the best and the last checkpoint'

  def measure(self, context: measure_lib.Context) -> dict:
    results, by_step = {}, {}
    for which, checkpoint in (('best', context.best), ('last', context.last)):
      if checkpoint.step not in by_step:
        by_step[checkpoint.step] = evaluate(context.evaluator, checkpoint.state)
      metrics = by_step[checkpoint.step]
      results[which] = {
          'step': checkpoint.step,
          'top1_error': metrics['eval_top1_error'],
          'top5_error': metrics['eval_top5_error'],
          'loss': metrics['eval_loss'],
      }
    return results

  def figure(self, by_run, path, chance):
    del by_run, path, chance
    return None

  def table_lines(self, reports: Sequence[dict]) -> List[str]:
    width = report.column_width(reports)
    lines = []
    for which in ('best', 'last'):
      cells = lambda read: report.cells(reports, self.name, lambda m: read(m[which]))
      lines.append(report.row(f'{which} step', cells(lambda m: str(m['step'])), width))
      for metric in ('top1_error', 'top5_error'):
        label = f'{which} {metric.replace("_", " ").replace("top", "top-")} (%)'
        lines.append(report.row(label, cells(lambda m, k=metric: f'{m[k]:.2f}'), width))
    return lines
