"""Weakly-supervised object localization from class activation maps, and the measure of it.

As the WSOL literature (Zhou et al., 2016; Choe et al., 2020): the map is thresholded at
`threshold * max`, the largest 4-connected region above it is kept, and its bounding box is
the predicted box. Top-1 localization is correct when the class is right AND the box has IoU
>= 0.5 with the ground truth; GT-known localization asks for the IoU only (with the map of the
true class). Boxes are `(y1, y2, x1, x2)`, half-open pixel coordinates, as the datasets give
them. The box arithmetic is host NumPy / SciPy; the maps come from `cam.cam_values` on device.
The measure (`Localization`) also draws `cam.png`: some eval images with their maps and boxes.
"""

import dataclasses
from typing import Dict, List, Sequence, Tuple

import numpy as np
from scipy import ndimage

from cutmix_jax.evaluation import cam
from cutmix_jax.evaluation import measure as measure_lib
from cutmix_jax.evaluation import report

THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))  # 0.05, 0.10, ..., 0.95
IOU_CORRECT = 0.5
_FOUR_CONNECTED = ndimage.generate_binary_structure(2, 1)


def box_iou(boxes_a, boxes_b) -> np.ndarray:
  """Intersection over union of matching boxes; an empty union gives 0.

  Args:
    boxes_a: int `(..., 4)` as `(y1, y2, x1, x2)`, half-open.
    boxes_b: int `(..., 4)`, broadcastable against `boxes_a`.

  Returns:
    float64 `(...)` IoU in [0, 1]; boxes that only touch have IoU 0.
  """
  a = np.asarray(boxes_a, np.int64)
  b = np.asarray(boxes_b, np.int64)
  height = np.minimum(a[..., 1], b[..., 1]) - np.maximum(a[..., 0], b[..., 0])
  width = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 2], b[..., 2])
  inter = np.maximum(height, 0) * np.maximum(width, 0)
  area = lambda box: (box[..., 1] - box[..., 0]) * (box[..., 3] - box[..., 2])
  union = area(a) + area(b) - inter
  return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def largest_region_box(mask) -> np.ndarray:
  """The bounding box of the largest 4-connected True region of `mask (H, W)`.

  Returns:
    int32 `(4,)` as `(y1, y2, x1, x2)`; all zeros (an empty box) when `mask` is all False. Of
    regions of equal size, the first in row-major order wins.
  """
  regions, count = ndimage.label(mask, structure=_FOUR_CONNECTED)
  if count == 0:
    return np.zeros(4, np.int32)
  sizes = np.bincount(regions.ravel(), minlength=count + 1)[1:]
  rows, cols = ndimage.find_objects(regions)[int(np.argmax(sizes))]
  return np.array([rows.start, rows.stop, cols.start, cols.stop], np.int32)


def cam_boxes(cams, threshold: float) -> np.ndarray:
  """Predicted boxes of maps `(N, H, W)`: largest region above `threshold * max`, `(N, 4)`."""
  cams = np.asarray(cams)
  peaks = cams.max(axis=(1, 2), keepdims=True)
  boxes = [largest_region_box(mask) for mask in cams > threshold * peaks]
  return np.array(boxes, np.int32).reshape(-1, 4)


def ious_per_threshold(cams, gt_boxes, thresholds: Sequence[float] = THRESHOLDS) -> np.ndarray:
  """IoU of each map's predicted box with its ground truth, for every threshold.

  Args:
    cams: `(N, H, W)` maps.
    gt_boxes: int `(N, 4)` ground-truth boxes.
    thresholds: fractions of each map's maximum.

  Returns:
    float64 `(T, N)` IoUs.
  """
  return np.stack([box_iou(cam_boxes(cams, t), gt_boxes) for t in thresholds])


def count_hits(rows: dict, thresholds: Sequence[float] = THRESHOLDS) -> np.ndarray:
  """`(2, T)` counts of top-1 hits (right class and IoU >= 0.5) and GT-known hits (IoU >= 0.5
  with the true class's map) of host rows: 'label', 'predicted', 'cam_predicted', 'cam_true',
  'box'."""
  correct = rows['predicted'] == rows['label']
  top1 = ious_per_threshold(rows['cam_predicted'], rows['box'], thresholds)
  known = ious_per_threshold(rows['cam_true'], rows['box'], thresholds)
  return np.stack(
      [((top1 >= IOU_CORRECT) & correct).sum(axis=1), (known >= IOU_CORRECT).sum(axis=1)]
  )


def summarize(
    top1_hits, gt_known_hits, count: int, thresholds: Sequence[float] = THRESHOLDS
) -> dict:
  """Localization accuracies (%) per threshold and at the threshold best for top-1 loc.

  Args:
    top1_hits: `(T,)` counts of examples with the right class and IoU >= 0.5.
    gt_known_hits: `(T,)` counts with IoU >= 0.5 using the true class's map.
    count: number of examples.
    thresholds: the T thresholds.

  Returns:
    JSON-ready dict: `thresholds`, `top1_loc` and `gt_known_loc` lists, `best` (threshold and
    both accuracies there), `best_gt_known` (its own best threshold) and `num_examples`.
  """
  top1 = [100.0 * float(h) / count for h in top1_hits]
  gt_known = [100.0 * float(h) / count for h in gt_known_hits]
  best, best_known = int(np.argmax(top1)), int(np.argmax(gt_known))
  return {
      'thresholds': [float(t) for t in thresholds],
      'top1_loc': top1,
      'gt_known_loc': gt_known,
      'best': {
          'threshold': float(thresholds[best]),
          'top1_loc': top1[best],
          'gt_known_loc': gt_known[best],
      },
      'best_gt_known': {
          'threshold': float(thresholds[best_known]),
          'gt_known_loc': gt_known[best_known],
      },
      'num_examples': int(count),
  }


def cam_examples(kept: Sequence[dict], count: int, num_classes: int) -> dict:
  """Up to `count` examples of the kept rows, the classes taking turns (an eval split sorted by
  class still shows every class), in eval order within a class."""
  rows = {k: np.concatenate([r[k] for r in kept]) for k in kept[0]}
  turn = np.zeros(len(rows['label']), np.int64)  # the example's rank within its class
  for label in range(num_classes):
    of_class = rows['label'] == label
    turn[of_class] = np.arange(of_class.sum())
  order = np.lexsort((rows['label'], turn))[:count]
  return {k: v[order] for k, v in rows.items()}


@dataclasses.dataclass(frozen=True)
class Localization:
  """Weakly-supervised localization from the CAMs of the best checkpoint (datasets with boxes;
  else reported as skipped), and `cam.png`.

  Attributes:
    thresholds: CAM thresholds (fractions of each map's maximum).
    num_pictures: eval images in `cam.png`.
  """

  thresholds: Tuple[float, ...] = THRESHOLDS
  num_pictures: int = 16
  name = 'localization'
  title = 'CAMs and localization of the best checkpoint'

  def cams(self, context: measure_lib.Context) -> Tuple[dict, dict]:
    """`(summary or {'skipped': reason}, examples with their CAMs)`; without boxes, only as much
    of the eval split is read as gives every class `num_pictures / K` examples."""
    dataset = context.dataset
    keep = ('image', 'label') + (('box',) if dataset.has_boxes else ())
    per_class = -(-self.num_pictures // dataset.num_classes)
    hits, seen, kept = np.zeros((2, len(self.thresholds)), np.int64), 0, []
    counts = np.zeros(dataset.num_classes, np.int64)
    for rows in context.evaluator.rows(cam.cam_values, context.best.state, keep=keep):
      if counts.min() < per_class:
        kept.append(rows)
        counts += np.bincount(rows['label'], minlength=dataset.num_classes)
      if dataset.has_boxes:
        hits += count_hits(rows, self.thresholds)
      elif counts.min() >= per_class:
        break
      seen += len(rows['label'])
    samples = cam_examples(kept, self.num_pictures, dataset.num_classes)
    if not dataset.has_boxes:
      return {'skipped': 'the eval split has no object boxes'}, samples
    return summarize(hits[0], hits[1], seen, self.thresholds), samples

  def measure(self, context: measure_lib.Context) -> dict:
    summary, samples = self.cams(context)
    context.pictures['cam'] = self.draw(samples, summary, context)
    return dict(summary, checkpoint='best')

  def draw(self, samples: dict, summary: dict, context: measure_lib.Context) -> str:
    """`cam.png`: eval images with their CAMs, true boxes and CAM boxes (best threshold)."""
    from cutmix_jax.evaluation import pictures  # pylint: disable=g-import-not-at-top (matplotlib)

    names = context.dataset.class_names
    captions = [
        f'pred {names[p]}\ntrue {names[t]}' for p, t in zip(samples['predicted'], samples['label'])
    ]
    predicted_boxes, threshold = None, None
    if 'best' in summary:
      threshold = summary['best']['threshold']
      predicted_boxes = cam_boxes(samples['cam_predicted'], threshold)
    return pictures.cam_grid(
        samples['image'],
        samples['cam_predicted'],
        captions,
        samples['predicted'] == samples['label'],
        context.path('cam.png'),
        true_boxes=samples.get('box'),
        predicted_boxes=predicted_boxes,
        threshold=threshold,
    )

  def figure(self, by_run: Dict[str, dict], path: str, chance: float):
    del by_run, path, chance
    return None

  def table_lines(self, reports: Sequence[dict]) -> List[str]:
    width = report.column_width(reports)
    lines = []
    for label, variant, key in (
        ('top-1 loc (%) @thr', 'best', 'top1_loc'),
        ('GT-known loc (%) @thr', 'best_gt_known', 'gt_known_loc'),
    ):
      read = lambda m, v=variant, k=key: (
          f'{m[v][k]:.2f} @{m[v]["threshold"]:.2f}' if v in m else 'n/a'
      )
      lines.append(report.row(label, report.cells(reports, self.name, read), width))
    return lines
