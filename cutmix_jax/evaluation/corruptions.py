"""Common corruptions computed on device, after CIFAR-10-C (Hendrycks & Dietterich, 2019).

Six corruptions at five severities each, in `[0, 1]` pixel units before normalization, with the
CIFAR-10-C parameters where the corruption is the same (noise, blur, contrast, pixelation);
brightness adds to every channel (CIFAR-10-C adds in HSV value). Severity 0 is the identity.
Noise is drawn from a key that depends only on the corruption, the severity, the batch's position
and the device, so a measurement is deterministic.
"""

import dataclasses
import functools
from typing import Dict, List, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from cutmix_jax.evaluation import pixels
from cutmix_jax.evaluation import report

SEVERITIES = (1, 2, 3, 4, 5)
PARAMETERS: Dict[str, Tuple[float, ...]] = {  # severity 1..5
    'gaussian_noise': (0.04, 0.06, 0.08, 0.09, 0.10),  # standard deviation
    'shot_noise': (500.0, 250.0, 100.0, 75.0, 50.0),  # photons per unit intensity
    'gaussian_blur': (0.4, 0.6, 0.7, 0.8, 1.0),  # sigma in pixels
    'contrast': (0.75, 0.5, 0.4, 0.3, 0.15),  # factor around the image mean
    'brightness': (0.05, 0.1, 0.15, 0.2, 0.3),  # added to every channel
    'pixelate': (0.95, 0.9, 0.85, 0.75, 0.65),  # side of the coarse image, relative
}
CORRUPTIONS = tuple(PARAMETERS)
_BLUR_RADIUS = 4  # taps on each side of the (separable) Gaussian kernel


def _blur(images, sigma):
  taps = jnp.arange(-_BLUR_RADIUS, _BLUR_RADIUS + 1, dtype=jnp.float32)
  kernel = jnp.exp(-0.5 * (taps / sigma) ** 2)
  kernel = kernel / kernel.sum()
  pad = ((0, 0), (_BLUR_RADIUS, _BLUR_RADIUS), (_BLUR_RADIUS, _BLUR_RADIUS), (0, 0))
  padded = jnp.pad(images, pad, mode='reflect')
  height, width = images.shape[1:3]
  rows = sum(kernel[i] * padded[:, i : i + height] for i in range(len(kernel)))
  return sum(kernel[i] * rows[:, :, i : i + width] for i in range(len(kernel)))


def _pixelate(images, relative: float):
  height, width = images.shape[1:3]
  small = (images.shape[0], max(1, round(height * relative)), max(1, round(width * relative)))
  coarse = jax.image.resize(images, small + images.shape[3:], method='linear')
  return jax.image.resize(coarse, images.shape, method='nearest')


def corrupt(name: str, severity: int, unit_images, key) -> jax.Array:
  """`[0, 1]` images `(N, H, W, C)` corrupted by `name` at `severity` (0: unchanged)."""
  if name not in PARAMETERS:
    raise ValueError(f'unknown corruption {name!r}; valid: {", ".join(CORRUPTIONS)}')
  if severity == 0:
    return unit_images
  value = PARAMETERS[name][severity - 1]
  x = unit_images
  if name == 'gaussian_noise':
    x = x + value * jax.random.normal(key, x.shape)
  elif name == 'shot_noise':
    x = jax.random.poisson(key, x * value, x.shape).astype(jnp.float32) / value
  elif name == 'gaussian_blur':
    x = _blur(x, value)
  elif name == 'contrast':
    mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
    x = (x - mean) * value + mean
  elif name == 'brightness':
    x = x + value
  else:
    x = _pixelate(x, value)
  return jnp.clip(x, 0.0, 1.0)


def correct_under(model, batch, key, *, name: str):
  """Whether each example is classified right at each severity of corruption `name` (the
  per-batch work of `eval_driver`; `key` differs per batch and device):
  `{'correct': bool (B, S)}`."""
  unit = pixels.to_unit(batch['image'])
  key = jax.random.fold_in(key, CORRUPTIONS.index(name))
  correct = []
  for severity in SEVERITIES:
    images = corrupt(name, severity, unit, jax.random.fold_in(key, severity))
    correct.append(jnp.argmax(model.logits_of_unit(images), axis=-1) == batch['label'])
  return {'correct': jnp.stack(correct, axis=-1)}


def summarize(correct_by_corruption: Dict[str, np.ndarray], count: int) -> dict:
  """Top-1 accuracy (%) per corruption and severity, each corruption's mean, and the mean."""
  accuracy = {
      name: (100.0 * np.asarray(c) / count).tolist() for name, c in correct_by_corruption.items()
  }
  means = {name: float(np.mean(values)) for name, values in accuracy.items()}
  return {
      'severities': list(SEVERITIES),
      'accuracy': accuracy,
      'mean_by_corruption': means,
      'mean': float(np.mean(list(means.values()))),
  }


@dataclasses.dataclass(frozen=True)
class Corruptions:
  """Top-1 accuracy (%) of the best checkpoint under each corruption at 5 severities.

  Attributes:
    names: the corruptions (keys of `PARAMETERS`).
  """

  names: Tuple[str, ...] = CORRUPTIONS
  name = 'corruptions'
  title = 'corruptions at 5 severities'
  flag_help = 'Top-1 accuracy under 6 corruptions at 5 severities.'

  def measure(self, context) -> dict:
    correct, count = {}, 0
    for corruption in self.names:
      work = functools.partial(correct_under, name=corruption)
      totals, count = context.evaluator.sums(work, context.best.state)
      correct[corruption] = totals['correct']
    return summarize(correct, count)

  def figure(self, by_run: Dict[str, dict], path: str, chance: float) -> str:
    """Top-1 accuracy against severity, one panel per corruption, one line per run."""
    del chance
    from cutmix_jax.evaluation import pictures  # pylint: disable=g-import-not-at-top (matplotlib)

    names = list(next(iter(by_run.values()))['accuracy'])
    figure = pictures.new_figure((3.0 * len(names), 3.4))
    axes = np.atleast_1d(figure.subplots(1, len(names)))
    for ax, corruption in zip(axes, names):
      for run, summary in by_run.items():
        ax.plot(
            summary['severities'],
            summary['accuracy'][corruption],
            marker='o',
            markersize=3,
            label=f'{run} (mean {summary["mean"]:.1f})',
        )
      ax.set(title=corruption.replace('_', ' '), xlabel='severity', ylim=(0, 100))
      ax.grid(alpha=0.3)
    axes[0].set_ylabel('top-1 accuracy (%)')
    axes[0].legend(fontsize=7)
    return pictures.save(figure, path)

  def table_lines(self, reports: Sequence[dict]) -> List[str]:
    rows_of = lambda first: [
        (f'{c} acc (%)', lambda m, c=c: f'{m["mean_by_corruption"][c]:.2f}')
        for c in first['mean_by_corruption']
    ] + [('corruptions mean (%)', lambda m: f'{m["mean"]:.2f}')]
    return report.measure_lines(reports, self.name, rows_of)
