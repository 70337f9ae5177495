"""Out-of-distribution detection with the max-softmax score (Hendrycks & Gimpel, 2017), as the
paper measures it (Sec. 4.4): the eval split is in-distribution (positive), an OOD set negative.

OOD sets: Gaussian and uniform noise images made here, and any dataset the user names
(`shapes`, `textures`, `folder:PATH`, `tfds:NAME`), its eval split resized to the model's
input.
"""

import dataclasses
import os
from typing import Iterator, List, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from cutmix_jax import data
from cutmix_jax.data import folder
from cutmix_jax.errors import UserError
from cutmix_jax.evaluation import confidence
from cutmix_jax.evaluation import pixels
from cutmix_jax.evaluation import report

NOISE_SETS = ('gaussian_noise', 'uniform_noise')
TPR = 0.95


class OodSetError(UserError, ValueError):
  """An OOD set that cannot be used (unknown name, unreadable data, other channel count)."""


def check_sets(sets: Sequence[str], load: bool = False) -> None:
  """Raises OodSetError unless every name is a noise set or a data source form; with `load`,
  also unless every data set can be read (so that a bad set stops before the first measure)."""
  for name in sets:
    if name in NOISE_SETS:
      continue
    try:
      data.check_source_name(name)
    except ValueError:
      raise OodSetError(
          f'--ood={name}: unknown set; valid: {", ".join(NOISE_SETS)} or a data source '
          f'({", ".join(data.SOURCE_FORMS)})'
      ) from None
    if load:
      _listed_files(name) if name.startswith('folder:') else _load(name, jax.device_count())


def auroc(in_scores, out_scores) -> float:
  """Area under the ROC curve: P(in score > out score), ties counted half (Mann-Whitney U)."""
  in_scores, out_scores = np.asarray(in_scores, np.float64), np.asarray(out_scores, np.float64)
  scores = np.concatenate([in_scores, out_scores])
  order = scores.argsort(kind='mergesort')
  ranks = np.empty(len(scores))
  sorted_scores = scores[order]
  # Average ranks of tied scores.
  _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
  average = first + (counts - 1) / 2.0 + 1.0
  ranks[order] = np.repeat(average, counts)
  in_rank_sum = ranks[: len(in_scores)].sum()
  u = in_rank_sum - len(in_scores) * (len(in_scores) + 1) / 2.0
  return float(u / (len(in_scores) * len(out_scores)))


def fpr_at_tpr(in_scores, out_scores, tpr: float = TPR) -> float:
  """The share of OOD examples accepted at the highest threshold that keeps `tpr` of the
  in-distribution ones (score >= threshold)."""
  in_scores = np.sort(np.asarray(in_scores, np.float64))
  threshold = in_scores[int(np.floor((1.0 - tpr) * len(in_scores)))]
  return float(np.mean(np.asarray(out_scores) >= threshold))


def noise_images(name: str, key, shape: Tuple[int, ...]) -> jax.Array:
  """`[0, 1]` pixel noise images: N(0.5, 0.25) clipped, or U(0, 1)."""
  if name == 'gaussian_noise':
    return jnp.clip(0.5 + 0.25 * jax.random.normal(key, shape), 0.0, 1.0)
  if name == 'uniform_noise':
    return jax.random.uniform(key, shape)
  raise ValueError(f'unknown noise set {name!r}; valid: {", ".join(NOISE_SETS)}')


def resize_to(unit_images, height: int, width: int) -> jax.Array:
  """`(N, h, w, C)` `[0, 1]` images resized (bilinear, antialiased) to the model's input."""
  if unit_images.shape[1:3] == (height, width):
    return unit_images
  shape = (unit_images.shape[0], height, width, unit_images.shape[-1])
  return jax.image.resize(unit_images, shape, method='bilinear')


def summarize(in_scores, out_scores) -> dict:
  """AUROC and FPR at 95 % TPR (both in %) of one OOD set against the eval split."""
  return {
      'auroc': 100.0 * auroc(in_scores, out_scores),
      'fpr_at_95_tpr': 100.0 * fpr_at_tpr(in_scores, out_scores),
      'count': int(len(out_scores)),
  }


def _noise_batches(name: str, count: int, batch_size: int, image_shape, seed: int) -> Iterator:
  """Batches of `count` noise images, `{'image': (B, H, W, C), 'mask': (B,)}`, the last padded."""
  for start in range(0, count, batch_size):
    key = jax.random.fold_in(jax.random.key(seed), start)
    images = noise_images(name, key, (batch_size,) + tuple(image_shape))
    yield {'image': images, 'mask': np.arange(start, start + batch_size) < count}


def _load(source: str, batch_size: int):
  """The dataset of a source, for its eval split only (the smallest train batch it allows)."""
  try:
    return data.load_dataset(
        data.DataConfig(source=source),
        batch_size=jax.device_count(),
        eval_batch_size=batch_size,
        seed=0,
    )
  except (OSError, ValueError) as error:
    raise OodSetError(f'--ood={source}: {error}') from None


def _listed_files(source: str) -> folder.FileList:
  """The images of an OOD folder: a plain folder of class folders, or its val/ or test/."""
  root = source.split(':', 1)[1]
  try:
    if not os.path.isdir(os.path.join(root, 'train')):
      return folder.list_split(root)[1]
    _, _, evaluation = folder.scan(root)
  except (OSError, ValueError) as error:
    raise OodSetError(f'--ood={source}: {error}') from None
  if evaluation is None:
    raise OodSetError(
        f'--ood={source}: {root} has train/ but no val/ or test/; name a plain folder of class '
        'folders or one with val/ or test/'
    )
  return evaluation


def _folder_batches(source: str, batch_size: int, image_shape) -> Iterator:
  """Batches of an OOD folder's images, each resized to the model's input, `[0, 1]` pixels."""
  height, width, channels = image_shape
  files = _listed_files(source)
  for start in range(0, len(files), batch_size):
    names = files.paths[start : start + batch_size]
    batch = np.zeros((batch_size, height, width, channels), np.float32)
    for i, name in enumerate(names):
      with Image.open(name) as image:
        image = image.convert('RGB' if channels == 3 else 'L').resize((width, height))
        batch[i] = np.asarray(image, np.float32).reshape(height, width, channels) / 255.0
    yield {'image': batch, 'mask': np.arange(batch_size) < len(names)}


def _dataset_batches(source: str, batch_size: int, image_shape) -> Iterator:
  """Batches of the eval split of `source`, `[0, 1]` pixels at the model's size."""
  other = _load(source, batch_size)
  height, width, channels = image_shape
  if other.image_shape[2] != channels:
    raise OodSetError(
        f'--ood={source} has {other.image_shape[2]} channels; the model takes {channels}'
    )
  for batch in other.eval_batches():
    yield {
        'image': resize_to(pixels.to_unit(batch['image']), height, width),
        'mask': batch['mask'],
    }


@dataclasses.dataclass(frozen=True)
class OodDetection:
  """AUROC and FPR at 95 % TPR of the max-softmax score of the best checkpoint: the eval split
  (in-distribution) against each OOD set.

  Attributes:
    sets: `NOISE_SETS` names or data sources (`shapes`, `folder:PATH`, ...).
  """

  sets: Tuple[str, ...] = NOISE_SETS
  name = 'ood'
  title = 'out-of-distribution detection'
  flag_help = None  # set by --ood=SETS

  def measure(self, context) -> dict:
    dataset, state = context.dataset, context.best.state
    in_scores = confidence.of_eval_split(context.evaluator, state)['confidence']
    batch_size = context.config.eval_batch_size
    results = {}
    for name in self.sets:
      if name in NOISE_SETS:
        batches = _noise_batches(name, dataset.num_eval, batch_size, dataset.image_shape, 0)
      elif name.startswith('folder:'):
        batches = _folder_batches(name, batch_size, dataset.image_shape)
      else:
        batches = _dataset_batches(name, batch_size, dataset.image_shape)
      out_scores = confidence.of_unit_batches(context.evaluator, state, batches)
      results[name] = summarize(in_scores, out_scores)
    return results

  def figure(self, by_run, path, chance):
    del by_run, path, chance
    return None

  def table_lines(self, reports: Sequence[dict]) -> List[str]:
    read = lambda name: lambda m: f'{m[name]["auroc"]:.2f} / {m[name]["fpr_at_95_tpr"]:.1f}'
    lines = report.measure_lines(
        reports, self.name, lambda first: [(f'OOD {name}', read(name)) for name in first]
    )
    if lines:
      lines.append('OOD rows: AUROC (%) / FPR at 95 % TPR (%) of the max-softmax score')
    return lines
