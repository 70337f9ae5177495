"""Top-1 error of each class of the best checkpoint: where a model fails, not only how often.

A regularizer such as CutMix rarely helps every class alike; the per-class errors of two runs
side by side show which classes gained.
"""

from typing import Dict, List, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from cutmix_jax.evaluation import report


def class_hits(model, batch, key):
  """Per example, the one-hot of its class and of its class if it is predicted right (the
  per-batch work of `eval_driver`): `{'seen': (B, K), 'correct': (B, K)}`."""
  del key
  logits = model.logits(batch['image'])
  seen = jax.nn.one_hot(batch['label'], logits.shape[-1], dtype=jnp.int32)
  right = (jnp.argmax(logits, axis=-1) == batch['label']).astype(jnp.int32)
  return {'seen': seen, 'correct': seen * right[:, None]}


class PerClass:
  """Top-1 error (%) of each class over the eval split."""

  name = 'per_class'
  title = 'per-class top-1 error'
  flag_help = 'Top-1 error of each class.'

  def measure(self, context) -> dict:
    totals, _ = context.evaluator.sums(class_hits, context.best.state)
    seen, correct = np.asarray(totals['seen']), np.asarray(totals['correct'])
    with np.errstate(invalid='ignore', divide='ignore'):
      error = np.where(seen > 0, 100.0 * (1.0 - correct / seen), np.nan)
    return {
        'class_names': list(context.dataset.class_names),
        'count': seen.tolist(),
        'top1_error': [None if np.isnan(e) else float(e) for e in error],
    }

  def figure(self, by_run: Dict[str, dict], path: str, chance: float) -> str:
    """One bar per class and run."""
    del chance
    from cutmix_jax.evaluation import pictures  # pylint: disable=g-import-not-at-top (matplotlib)

    names = next(iter(by_run.values()))['class_names']
    figure = pictures.new_figure((max(6.0, 0.5 * len(names) * len(by_run)), 3.6))
    ax = figure.subplots()
    width = 0.8 / len(by_run)
    for i, (run, summary) in enumerate(by_run.items()):
      errors = [np.nan if e is None else e for e in summary['top1_error']]
      ax.bar(np.arange(len(names)) + i * width, errors, width, label=run)
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=45, ha='right')
    ax.set(title='Top-1 error per class', ylabel='top-1 error (%)', ylim=(0, 100))
    ax.grid(alpha=0.3, axis='y')
    ax.legend(fontsize=8, loc='upper left', bbox_to_anchor=(1.01, 1.0))  # beside the bars
    return pictures.save(figure, path)

  def table_lines(self, reports: Sequence[dict]) -> List[str]:
    def extreme(summary, pick):
      known = [
          (e, n) for e, n in zip(summary['top1_error'], summary['class_names']) if e is not None
      ]
      error, name = pick(known)
      return f'{name} {error:.1f}'

    rows = [
        (label, lambda m, p=pick: extreme(m, p))
        for label, pick in (('worst class (% err)', max), ('best class (% err)', min))
    ]
    return report.measure_lines(reports, self.name, lambda first: rows)
