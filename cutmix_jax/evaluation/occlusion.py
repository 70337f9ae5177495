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
from typing import Callable, List, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from cutmix_jax.train_step import AXIS

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


def perturbed_step(state, batch, keep, blend, *, preprocess: Callable):
  """Top-1 hits under every perturbation, summed over devices (pure; for `jax.pmap`).

  Args:
    state: a TrainState.
    batch: `{'image': (B, H, W, C), 'label': (B,), 'mask': (B,) bool}`.
    keep: `(K, H, W)` keep masks (see `Perturbations`).
    blend: `(K,)` partner weights.
    preprocess: the dataset's `eval_preprocess`.

  Returns:
    `{'correct': int (K,), 'count': int ()}` over the unmasked examples of all devices.
  """
  variables = {'params': state.params, 'batch_stats': state.batch_stats}
  images = preprocess(batch['image'])
  partners = images[partner_indices(batch['mask'])]

  def hits(keep_and_blend):
    keep_k, blend_k = keep_and_blend
    inputs = keep_k[None, :, :, None] * ((1.0 - blend_k) * images + blend_k * partners)
    logits = state.apply_fn(variables, inputs, train=False)
    return jnp.sum(batch['mask'] & (jnp.argmax(logits, axis=-1) == batch['label']))

  sums = {'correct': jax.lax.map(hits, (keep, blend)), 'count': jnp.sum(batch['mask'])}
  return jax.lax.psum(sums, AXIS)


def measure(p_step: Callable, state, dataset, spec: Perturbations) -> dict:
  """Top-1 accuracy (%) of replicated `state` under every perturbation of `spec`, all eval data.

  Args:
    p_step: `jax.pmap` of `perturbed_step` with `in_axes=(0, 0, None, None)`.
    state: the replicated TrainState.
    dataset: a `cutmix_jax.data.Dataset`.
    spec: the perturbations.

  Returns:
    JSON-ready dict: `fill`, `hole_fraction`, `centre`, `boundary`, `mixup_lambda`, `mixup`.
  """
  correct, count = np.zeros(len(spec.names), np.int64), 0
  for batch in dataset.eval_batches():
    sums = jax.device_get(p_step(state, batch, spec.keep, spec.blend))
    correct += np.asarray(sums['correct'][0], np.int64)
    count += int(sums['count'][0])
  curves = {'fill': FILL}
  for curve, x_key in (
      ('centre', 'hole_fraction'),
      ('boundary', 'hole_fraction'),
      ('mixup', 'mixup_lambda'),
  ):
    rows = [i for i, (name, _) in enumerate(spec.names) if name == curve]
    curves[x_key] = [spec.names[i][1] for i in rows]
    curves[curve] = [100.0 * float(correct[i]) / count for i in rows]
  return curves
