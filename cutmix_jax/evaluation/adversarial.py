"""Robustness to FGSM (Goodfellow et al., 2015), as the paper measures it (Sec. 4.4, eps 8/255).

The perturbation is made in `[0, 1]` pixel units, before normalization, and the image clipped to
`[0, 1]`: `x_adv = clip(x + eps * sign(d loss / d x), 0, 1)` with the cross-entropy of the true
label and the model in eval mode.
"""

import dataclasses
import functools
from typing import Callable, Dict, List, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cutmix_jax.evaluation import pixels
from cutmix_jax.evaluation import report

EPSILONS = (1 / 255, 2 / 255, 4 / 255, 8 / 255)


def fgsm_images(logits_fn: Callable, unit_images, labels, epsilon) -> jax.Array:
  """The FGSM images of `[0, 1]` pixel images for `logits_fn(unit_images) -> (N, K)`."""

  def loss(images):
    logits = logits_fn(images).astype(jnp.float32)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).sum()

  step = jnp.sign(jax.grad(loss)(unit_images))
  return jnp.clip(unit_images + epsilon * step, 0.0, 1.0)


def correct_under_fgsm(model, batch, key, epsilons):
  """Whether each example is still classified right under FGSM at each epsilon (the per-batch
  work of `eval_driver`): `{'correct': bool (B, E)}`."""
  del key
  unit = pixels.to_unit(batch['image'])
  correct = []
  for epsilon in epsilons:
    adversarial = fgsm_images(model.logits_of_unit, unit, batch['label'], epsilon)
    correct.append(jnp.argmax(model.logits_of_unit(adversarial), axis=-1) == batch['label'])
  return {'correct': jnp.stack(correct, axis=-1)}


@dataclasses.dataclass(frozen=True)
class Fgsm:
  """Top-1 accuracy (%) of the best checkpoint under FGSM at each epsilon ([0, 1] pixel units).

  Attributes:
    epsilons: the attack strengths.
  """

  epsilons: Tuple[float, ...] = EPSILONS
  name = 'fgsm'
  title = 'FGSM robustness'
  flag_help = 'Top-1 accuracy under FGSM at epsilon 1, 2, 4, 8 / 255.'

  def measure(self, context) -> dict:
    work = functools.partial(correct_under_fgsm, epsilons=tuple(self.epsilons))
    totals, count = context.evaluator.sums(work, context.best.state)
    return {
        'epsilons': [float(e) for e in self.epsilons],
        'epsilons_255': [float(e * 255) for e in self.epsilons],
        'accuracy': (100.0 * np.asarray(totals['correct']) / count).tolist(),
    }

  def figure(self, by_run: Dict[str, dict], path: str, chance: float) -> str:
    """Top-1 accuracy against epsilon (/255), one line per run; chance dotted."""
    from cutmix_jax.evaluation import pictures  # pylint: disable=g-import-not-at-top (matplotlib)

    figure = pictures.new_figure((4.5, 3.6))
    ax = figure.subplots()
    for name, fgsm in by_run.items():
      ax.plot(fgsm['epsilons_255'], fgsm['accuracy'], marker='o', markersize=3, label=name)
    pictures.chance_line(ax, chance)
    ax.set(title='FGSM', xlabel='epsilon (/255)', ylabel='top-1 accuracy (%)', ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return pictures.save(figure, path)

  def table_lines(self, reports: Sequence[dict]) -> List[str]:
    rows_of = lambda first: [
        (f'FGSM {eps:g}/255 acc (%)', lambda m, i=i: f'{m["accuracy"][i]:.2f}')
        for i, eps in enumerate(first['epsilons_255'])
    ]
    return report.measure_lines(reports, self.name, rows_of)
