"""Robustness to occlusion and to in-between samples (the paper's robustness study, Sec. 4.4).

Centre occlusion zeroes a centred square whose side is a fraction of the image side; boundary
occlusion zeroes everything except that square, so at equal size the two are complements.
"Zeroed" means 0 in the normalized input the model sees, i.e. the dataset's mean pixel.
In-between samples blend each image with the next one of its eval batch as Mixup does,
`(1 - lam) * x + lam * x_partner`, scored against its own (the first) label; the pairs, and so
this curve in its last digits, depend on the eval batch size.
Every perturbation is one `(keep mask, blend)` pair, so one jitted pass measures all curves.
"""

import dataclasses
from typing import Dict, List, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from cutmix_jax.evaluation import report

HOLE_FRACTIONS = tuple(k / 10 for k in range(11))  # 0, 10%, ..., 100% of the image side
MIXUP_LAMBDAS = tuple(k / 10 for k in range(6))  # partner weight 0, 0.1, ..., 0.5
FILL = 'zero in the normalized input (the mean pixel of the dataset)'


@dataclasses.dataclass(frozen=True)
class Perturbations:
  """K perturbations `x -> keep * ((1 - blend) * x + blend * partner)`.

  Attributes:
    names: `(curve, x value)` of each, curve one of 'centre', 'boundary', 'mixup'.
    keep: float32 `(K, H, W)`, 0 where the input is zeroed.
    blend: float32 `(K,)` weight of the partner image.
  """

  names: List[Tuple[str, float]]
  keep: np.ndarray
  blend: np.ndarray


def centred_square(fraction: float, height: int, width: int) -> np.ndarray:
  """Bool `(H, W)`: True on a centred rectangle of sides `round(fraction * (H, W))`.

  An odd side in an even image (or the reverse) sits one pixel closer to the top / left.
  """
  side_h, side_w = (int(np.floor(fraction * n + 0.5)) for n in (height, width))
  top, left = (height - side_h) // 2, (width - side_w) // 2
  square = np.zeros((height, width), bool)
  square[top : top + side_h, left : left + side_w] = True
  return square


def perturbations(
    height: int,
    width: int,
    fractions: Sequence[float] = HOLE_FRACTIONS,
    lambdas: Sequence[float] = MIXUP_LAMBDAS,
) -> Perturbations:
  """The centre and boundary occlusions of every hole fraction and the Mixup blends."""
  squares = [centred_square(f, height, width) for f in fractions]
  keeps = [~s for s in squares] + squares + [np.ones((height, width), bool)] * len(lambdas)
  names = (
      [('centre', float(f)) for f in fractions]
      + [('boundary', float(f)) for f in fractions]
      + [('mixup', float(lam)) for lam in lambdas]
  )
  blend = [0.0] * (2 * len(fractions)) + [float(lam) for lam in lambdas]
  return Perturbations(names, np.stack(keeps).astype(np.float32), np.asarray(blend, np.float32))


def partner_indices(mask) -> jax.Array:
  """Partner of each row among the valid rows (a prefix of the batch): the next one, cyclically.

  Args:
    mask: bool `(B,)`, True on the real examples, which come first.

  Returns:
    int `(B,)`; padding rows are their own partners.
  """
  count = jnp.maximum(jnp.sum(mask), 1)
  index = jnp.arange(mask.shape[0])
  return jnp.where(mask, (index + 1) % count, index)


def hits(model, batch, key, keep, blend):
  """Top-1 hits of each example under every perturbation (the per-batch work of `eval_driver`).

  Args:
    model: a `eval_driver.EvalModel`.
    batch: `{'image': (B, H, W, C) uint8, 'label': (B,), 'mask': (B,) bool}`.
    key: unused.
    keep: `(K, H, W)` keep masks (see `Perturbations`).
    blend: `(K,)` partner weights.

  Returns:
    `{'correct': bool (B, K)}`.
  """
  del key
  images = model.inputs(batch['image'])
  partners = images[partner_indices(batch['mask'])]

  def correct(keep_and_blend):
    keep_k, blend_k = keep_and_blend
    inputs = keep_k[None, :, :, None] * ((1.0 - blend_k) * images + blend_k * partners)
    return jnp.argmax(model.logits_of_inputs(inputs), axis=-1) == batch['label']

  return {'correct': jax.lax.map(correct, (keep, blend)).T}


_CURVES = (  # curve, its x values, x scale, figure title, x label, table header
    ('centre', 'hole_fraction', 100, 'Centre occlusion', 'hole side (% of image side)',
     'hole side (%)'),
    ('boundary', 'hole_fraction', 100, 'Boundary occlusion', 'visible side (% of image side)',
     'visible side (%)'),
    ('mixup', 'mixup_lambda', 1, 'In-between (Mixup) samples', 'weight of the other image',
     'mixup weight'),
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Occlusion:
  """Top-1 accuracy of the best checkpoint under centre / boundary occlusion and Mixup blends.

  Attributes:
    hole_fractions: sides of the occlusion squares, as fractions of the image side.
    mixup_lambdas: weights of the other image in the in-between samples.
  """

  hole_fractions: Tuple[float, ...] = HOLE_FRACTIONS
  mixup_lambdas: Tuple[float, ...] = MIXUP_LAMBDAS
  name = 'occlusion'
  title = 'occlusion robustness'
  flag_help = 'Top-1 accuracy under centre / boundary occlusion and Mixup blends.'

  def measure(self, context) -> dict:
    """JSON-ready dict: `fill`, `hole_fraction`, `centre`, `boundary`, `mixup_lambda`, `mixup`."""
    height, width, _ = context.dataset.image_shape
    spec = perturbations(height, width, self.hole_fractions, self.mixup_lambdas)
    totals, count = context.evaluator.sums(hits, context.best.state, spec.keep, spec.blend)
    curves = {'fill': FILL, 'checkpoint': 'best'}
    for curve, x_key, *_ in _CURVES:
      rows = [i for i, (name, _) in enumerate(spec.names) if name == curve]
      curves[x_key] = [spec.names[i][1] for i in rows]
      curves[curve] = [100.0 * float(totals['correct'][i]) / count for i in rows]
    return curves

  def figure(self, by_run: Dict[str, dict], path: str, chance: float) -> str:
    """Top-1 accuracy against hole side and blend weight, one line per run; chance dotted."""
    from cutmix_jax.evaluation import pictures  # pylint: disable=g-import-not-at-top (matplotlib)

    figure = pictures.new_figure((13, 3.8))
    axes = figure.subplots(1, len(_CURVES))
    for ax, (curve, x_key, scale, title, x_label, _) in zip(axes, _CURVES):
      for name, curves in by_run.items():
        x = np.asarray(curves[x_key]) * scale
        ax.plot(x, curves[curve], marker='o', markersize=3, label=name)
      pictures.chance_line(ax, chance)
      ax.set(title=title, xlabel=x_label, ylabel='top-1 accuracy (%)', ylim=(0, 100))
      ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return pictures.save(figure, path)

  def table_lines(self, reports: Sequence[dict]) -> List[str]:
    """Each curve of each run as one row of top-1 accuracies (%) under its x axis."""
    if any('skipped' in r[self.name] for r in reports):
      return []
    first = reports[0][self.name]
    lines = [f'top-1 accuracy (%) under occlusion (best checkpoint; {first["fill"]}):']
    for curve, x_key, scale, _, _, header in _CURVES:
      lines.append(report.row(header, [f'{x * scale:g}' for x in first[x_key]], 6))
      for r in reports:
        label = f'{curve} {r["run"]}' if len(reports) > 1 else curve
        lines.append(report.row(label, [f'{v:.1f}' for v in r[self.name][curve]], 6))
    return lines
