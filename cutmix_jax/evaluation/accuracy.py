"""The report's accuracy of the best and the last checkpoint (`training.eval_accuracy`, the
evaluation the trainer runs every few epochs)."""

from typing import List, Sequence

from cutmix_jax.evaluation import measure as measure_lib
from cutmix_jax.evaluation import report
from cutmix_jax.training import eval_accuracy


class Accuracy:
  """Top-1 / top-5 error (%) and loss of the best and of the last checkpoint."""

  name = 'accuracy'
  title = 'accuracy of the best and the last checkpoint'

  def measure(self, context: measure_lib.Context) -> dict:
    results, by_step = {}, {}
    for which, checkpoint in (('best', context.best), ('last', context.last)):
      if checkpoint.step not in by_step:
        by_step[checkpoint.step] = eval_accuracy.evaluate(context.evaluator, checkpoint.state)
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
