"""PNG figures: mixed training images, CAM overlays with boxes, occlusion curves.

Figures are drawn on `matplotlib.figure.Figure` objects (Agg canvas), never through pyplot,
so nothing global changes and no display is needed.
"""

from typing import Dict, Optional, Sequence, Tuple

from matplotlib import patches
from matplotlib.figure import Figure
import numpy as np

TRUE_BOX_COLOR = 'lime'
PREDICTED_BOX_COLOR = 'red'
_CELL_INCHES = 1.7


def to_pixels(images, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
  """uint8 images `(N, H, W, C)`: uint8 input as it is, normalized floats mapped back to pixels."""
  images = np.asarray(images)
  if images.dtype == np.uint8:
    return images
  pixels = images * (np.asarray(std) * 255.0) + np.asarray(mean) * 255.0
  return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def target_caption(target, class_names: Sequence[str], most: int = 2) -> str:
  """The largest `most` weights of a soft target `(K,)`: 'name', or '0.63 name\\n0.37 other'."""
  target = np.asarray(target)
  order = [i for i in np.argsort(-target, kind='stable')[:most] if target[i] >= 0.005]
  if len(order) == 1 and target[order[0]] > 0.995:
    return class_names[order[0]]
  return '\n'.join(f'{target[i]:.2f} {class_names[i]}' for i in order)


def _grid(rows: int, columns: int) -> Tuple[Figure, np.ndarray]:
  figure = Figure(figsize=(columns * _CELL_INCHES, rows * _CELL_INCHES * 1.2), layout='constrained')
  axes = np.asarray(figure.subplots(rows, columns, squeeze=False))
  for ax in axes.flat:
    ax.set_axis_off()
  return figure, axes


def _draw_box(ax, box, color: str) -> None:
  """Outlines a half-open box `(y1, y2, x1, x2)` over the pixels it covers."""
  y1, y2, x1, x2 = (int(v) for v in box)
  ax.add_patch(
      patches.Rectangle(
          (x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor=color, linewidth=1.5
      )
  )


def mixing_grid(
    examples: Dict[str, Tuple[np.ndarray, np.ndarray]],
    class_names: Sequence[str],
    title: str,
    path: str,
) -> str:
  """One row per mix method: uint8 images `(n, H, W, C)` captioned by their soft targets.

  Args:
    examples: method -> `(pixels (n, H, W, C) uint8, soft targets (n, K))`.
    class_names: the K class names.
    title: figure title.
    path: where to write the PNG.

  Returns:
    `path`.
  """
  columns = max(len(pixels) for pixels, _ in examples.values())
  figure, axes = _grid(len(examples), columns)
  for row, (method, (pixels, targets)) in enumerate(examples.items()):
    for col, (image, target) in enumerate(zip(pixels, targets)):
      axes[row, col].imshow(image, interpolation='nearest')
      axes[row, col].set_title(target_caption(target, class_names), fontsize=7)
    axes[row, 0].text(
        -0.15,
        0.5,
        method,
        transform=axes[row, 0].transAxes,
        rotation=90,
        ha='right',
        va='center',
        fontsize=10,
        weight='bold',
    )
  figure.suptitle(title, fontsize=10)
  figure.savefig(path, dpi=100)
  return path


def cam_grid(
    pixels,
    cams,
    captions: Sequence[str],
    correct: Sequence[bool],
    path: str,
    true_boxes: Optional[np.ndarray] = None,
    predicted_boxes: Optional[np.ndarray] = None,
    columns: int = 8,
) -> str:
  """Pairs of rows: each image with its boxes, then its CAM over it.

  Args:
    pixels: uint8 `(n, H, W, C)`.
    cams: `(n, H, W)` maps in [0, 1].
    captions: n titles (predicted / true class).
    correct: n flags; a wrong prediction's title is red.
    path: where to write the PNG.
    true_boxes: optional `(n, 4)` ground truth, drawn in `TRUE_BOX_COLOR`.
    predicted_boxes: optional `(n, 4)` boxes from the CAMs, drawn in `PREDICTED_BOX_COLOR`.
    columns: images per row.

  Returns:
    `path`.
  """
  rows = -(-len(pixels) // columns)
  figure, axes = _grid(2 * rows, columns)
  for i, (image, cam) in enumerate(zip(pixels, cams)):
    top, bottom = axes[2 * (i // columns), i % columns], axes[2 * (i // columns) + 1, i % columns]
    top.imshow(image, interpolation='nearest')
    top.set_title(captions[i], fontsize=7, color='black' if correct[i] else 'red')
    bottom.imshow(image, interpolation='nearest')
    bottom.imshow(cam, cmap='jet', alpha=0.5, vmin=0.0, vmax=1.0, interpolation='bilinear')
    for boxes, color in ((true_boxes, TRUE_BOX_COLOR), (predicted_boxes, PREDICTED_BOX_COLOR)):
      if boxes is not None:
        _draw_box(top, boxes[i], color)
  figure.suptitle(
      f'CAM of the predicted class; boxes: true ({TRUE_BOX_COLOR}), from the CAM '
      f'({PREDICTED_BOX_COLOR})',
      fontsize=10,
  )
  figure.savefig(path, dpi=100)
  return path


_CURVES = (
    ('centre', 'hole_fraction', 100.0, 'Centre occlusion', 'hole side (% of image side)'),
    ('boundary', 'hole_fraction', 100.0, 'Boundary occlusion', 'visible side (% of image side)'),
    ('mixup', 'mixup_lambda', 1.0, 'In-between (Mixup) samples', 'weight of the other image'),
)


def occlusion_figure(curves_by_run: Dict[str, dict], path: str) -> str:
  """Top-1 accuracy under centre / boundary occlusion and Mixup blends, one line per run.

  Args:
    curves_by_run: run name -> the dict of `occlusion.measure`.
    path: where to write the PNG.

  Returns:
    `path`.
  """
  figure = Figure(figsize=(13, 3.8), layout='constrained')
  axes = figure.subplots(1, len(_CURVES))
  for ax, (curve, x_key, scale, title, x_label) in zip(axes, _CURVES):
    for name, curves in curves_by_run.items():
      ax.plot(
          np.asarray(curves[x_key]) * scale, curves[curve], marker='o', markersize=3, label=name
      )
    ax.set(title=title, xlabel=x_label, ylabel='top-1 accuracy (%)', ylim=(0, 100))
    ax.grid(alpha=0.3)
  axes[0].legend(fontsize=8)
  figure.savefig(path, dpi=100)
  return path
