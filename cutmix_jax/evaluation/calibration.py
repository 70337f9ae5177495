"""Calibration: expected calibration error (ECE, Guo et al., 2017), negative log-likelihood and
the reliability diagram's bins, from per-example confidences.

Mixing methods are known to change calibration (Mixup and CutMix soften the targets), which
users of timm-trained models routinely check.
"""

import dataclasses
from typing import Dict, List, Sequence

import numpy as np

from cutmix_jax.evaluation import confidence
from cutmix_jax.evaluation import report

NUM_BINS = 15


def _bin_statistics(confidence, correct, num_bins: int):
  """Per equal-width confidence bin `(lo, hi]`: edges, count, accuracy, mean confidence
  (NaN where empty)."""
  confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, bool)
  edges = np.linspace(0.0, 1.0, num_bins + 1)
  index = np.clip(np.searchsorted(edges, confidence, side='left') - 1, 0, num_bins - 1)
  count = np.bincount(index, minlength=num_bins)
  with np.errstate(invalid='ignore', divide='ignore'):
    accuracy = np.bincount(index, weights=correct, minlength=num_bins) / count
    mean_confidence = np.bincount(index, weights=confidence, minlength=num_bins) / count
  return edges, count, accuracy, mean_confidence


def reliability_bins(confidence, correct, num_bins: int = NUM_BINS) -> dict:
  """The reliability diagram as JSON-ready lists: per bin, count, accuracy and mean confidence
  (None where empty).

  Args:
    confidence: `(N,)` the max softmax probability of each example.
    correct: `(N,)` bool, whether the top-1 prediction is right.
    num_bins: equal-width bins `(lo, hi]` over [0, 1].
  """
  edges, count, accuracy, mean_confidence = _bin_statistics(confidence, correct, num_bins)
  listed = lambda values: [None if c == 0 else float(v) for v, c in zip(values, count)]
  return {
      'edges': edges.tolist(),
      'count': count.tolist(),
      'accuracy': listed(accuracy),
      'confidence': listed(mean_confidence),
  }


def expected_calibration_error(confidence, correct, num_bins: int = NUM_BINS) -> float:
  """`sum_b |B_b| / N * |accuracy(B_b) - confidence(B_b)|`, in [0, 1]."""
  _, count, accuracy, mean_confidence = _bin_statistics(confidence, correct, num_bins)
  gaps = np.where(count > 0, np.abs(accuracy - mean_confidence), 0.0)
  return float(np.sum(gaps * count) / count.sum())


def summarize(confidence, correct, true_log_prob, num_bins: int = NUM_BINS) -> dict:
  """ECE (%), NLL (nats per example) and the reliability bins of an eval split."""
  return {
      'ece': 100.0 * expected_calibration_error(confidence, correct, num_bins),
      'nll': float(-np.mean(true_log_prob)),
      'bins': reliability_bins(confidence, correct, num_bins),
  }


@dataclasses.dataclass(frozen=True)
class Calibration:
  """ECE, NLL and the reliability diagram of the best checkpoint over the eval split.

  Attributes:
    num_bins: equal-width confidence bins.
  """

  num_bins: int = NUM_BINS
  name = 'calibration'
  title = 'calibration'
  flag_help = 'Expected calibration error, NLL and the reliability diagram.'

  def measure(self, context) -> dict:
    scores = confidence.of_eval_split(context.evaluator, context.best.state)
    correct = scores['predicted'] == scores['label']
    return summarize(scores['confidence'], correct, scores['true_log_prob'], self.num_bins)

  def figure(self, by_run: Dict[str, dict], path: str, chance: float) -> str:
    """Reliability diagram: accuracy against confidence per bin, with each run's ECE."""
    del chance
    from cutmix_jax.evaluation import pictures  # pylint: disable=g-import-not-at-top (matplotlib)

    figure = pictures.new_figure((4.5, 4.2))
    ax = figure.subplots()
    ax.plot([0, 1], [0, 1], color='grey', linestyle=':', linewidth=1, label='calibrated')
    for name, calibration in by_run.items():
      bins = calibration['bins']
      kept = [i for i, c in enumerate(bins['count']) if c]
      ax.plot(
          [bins['confidence'][i] for i in kept],
          [bins['accuracy'][i] for i in kept],
          marker='o',
          markersize=3,
          label=f'{name} (ECE {calibration["ece"]:.1f} %)',
      )
    ax.set(title='Reliability', xlabel='confidence', ylabel='accuracy', xlim=(0, 1), ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return pictures.save(figure, path)

  def table_lines(self, reports: Sequence[dict]) -> List[str]:
    rows = [
        (f'ECE (%, {self.num_bins} bins)', lambda m: f'{m["ece"]:.2f}'),
        ('NLL (nats)', lambda m: f'{m["nll"]:.3f}'),
    ]
    return report.measure_lines(reports, self.name, lambda first: rows)
