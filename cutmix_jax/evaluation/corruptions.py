"""Common corruptions computed on device, after CIFAR-10-C (Hendrycks & Dietterich, 2019).

Six corruptions at five severities each, in `[0, 1]` pixel units before normalization, with the
CIFAR-10-C parameters where the corruption is the same (noise, blur, contrast, pixelation);
brightness adds to every channel (CIFAR-10-C adds in HSV value). Severity 0 is the identity.
Noise is drawn from a key that depends only on the corruption, the severity and the batch's
position, so a measurement is deterministic.
"""

import functools
from typing import Dict, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from cutmix_jax.evaluation import pixels
from cutmix_jax.train_step import AXIS

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


def corrupted_step(
    state,
    batch,
    key,
    *,
    name: str,
    mean: Sequence[float],
    std: Sequence[float],
):
  """Correct predictions at each severity of one corruption, summed over the unmasked examples
  of all devices (pure; pmap it over `AXIS`; `key` differs per batch and device).
  Returns `{'correct': (S,), 'count': ()}`."""
  variables = {'params': state.params, 'batch_stats': state.batch_stats}
  unit = pixels.to_unit(batch['image'], mean, std)
  correct = []
  for severity in SEVERITIES:
    images = corrupt(name, severity, unit, jax.random.fold_in(key, severity))
    logits = state.apply_fn(variables, pixels.normalize(images, mean, std), train=False)
    correct.append(jnp.sum((jnp.argmax(logits, axis=-1) == batch['label']) & batch['mask']))
  return jax.lax.psum({'correct': jnp.stack(correct), 'count': jnp.sum(batch['mask'])}, AXIS)


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


def measure(state, dataset, names: Sequence[str] = CORRUPTIONS, seed: int = 0) -> dict:
  """Top-1 accuracy (%) of the replicated `state` under each corruption and severity."""
  devices = jax.local_device_count()
  correct, count = {}, 0
  for name in names:
    p_step = jax.pmap(
        functools.partial(corrupted_step, name=name, mean=dataset.mean, std=dataset.std),
        axis_name=AXIS,
    )
    totals, count = 0, 0
    for index, batch in enumerate(dataset.eval_batches()):
      key = jax.random.fold_in(jax.random.key(seed), CORRUPTIONS.index(name) * 100_003 + index)
      sums = jax.device_get(p_step(state, batch, jax.random.split(key, devices)))
      totals = totals + np.asarray(sums['correct'])[0]
      count += int(np.asarray(sums['count'])[0])
    correct[name] = totals
  return summarize(correct, count)
