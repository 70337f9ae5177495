"""PNG figures: grids of mixed training images and of CAM overlays with boxes, and the helpers
with which each measure draws its own figure (in its module).

Figures are drawn on `matplotlib.figure.Figure` objects (Agg canvas), never through pyplot,
so nothing global changes and no display is needed.
"""

import io
import textwrap
from typing import Dict, Optional, Sequence, Tuple

from matplotlib import patches
from matplotlib.figure import Figure
import numpy as np

from cutmix_jax.config import storage

TRUE_BOX_COLOR = 'lime'
PREDICTED_BOX_COLOR = 'red'
CAM_COLORMAP = 'inferno'  # perceptually uniform, readable over grey
_CELL_INCHES = 1.7


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
    notes: Optional[Dict[str, Sequence[str]]] = None,
) -> str:
  """One row per mix method: uint8 images `(n, H, W, C)` captioned by their soft targets.

  Args:
    examples: method -> `(pixels (n, H, W, C) uint8, soft targets (n, K))`.
    class_names: the K class names.
    title: figure title.
    path: where to write the PNG.
    notes: method -> n notes under the captions (why a mixed image kept a one-class target:
      'self-pair' or 'same class'; '' for none).

  Returns:
    `path`.
  """
  notes = notes or {}
  columns = max(len(pixels) for pixels, _ in examples.values())
  figure, axes = _grid(len(examples), columns)
  for row, (method, (pixels, targets)) in enumerate(examples.items()):
    for col, (image, target) in enumerate(zip(pixels, targets)):
      axes[row, col].imshow(image, interpolation='nearest')
      axes[row, col].set_title(target_caption(target, class_names), fontsize=7)
      note = notes.get(method, [''] * len(pixels))[col]
      if note:
        axes[row, col].set_xlabel(f'({note})', fontsize=7, color='tab:blue')
        axes[row, col].set_axis_on()
        axes[row, col].set(xticks=[], yticks=[])
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
  wrap = lambda text: textwrap.fill(text, width=max(40, 22 * columns))
  figure.suptitle(wrap(title), fontsize=10)
  if any(any(n) for n in notes.values()):
    figure.supxlabel(
        wrap(
            'self-pair: the random partner was the image itself, so nothing changed; same class: '
            'the partner had the same class, so the target stays one class. Both happen in '
            'training too.'
        ),
        fontsize=8,
    )
  return save(figure, path)


def grey(image) -> np.ndarray:
  """uint8 `(H, W, C)` as its luminance `(H, W)` in [0, 1] (ITU-R 601 weights)."""
  image = np.asarray(image, np.float64) / 255.0
  if image.shape[-1] == 1:
    return image[..., 0]
  return image[..., :3] @ np.array([0.299, 0.587, 0.114])


def cam_grid(
    pixels,
    cams,
    captions: Sequence[str],
    correct: Sequence[bool],
    path: str,
    true_boxes: Optional[np.ndarray] = None,
    predicted_boxes: Optional[np.ndarray] = None,
    threshold: Optional[float] = None,
    columns: int = 8,
) -> str:
  """Pairs of rows: each image with its boxes, then its CAM over the greyed image.

  The CAM is drawn in a perceptual colour map (`CAM_COLORMAP`, with a colour bar) over the
  image's luminance, so colourful images do not hide it; its contour at `threshold` outlines the
  region the CAM box is drawn from.

  Args:
    pixels: uint8 `(n, H, W, C)`.
    cams: `(n, H, W)` maps in [0, 1].
    captions: n titles (predicted / true class).
    correct: n flags; a wrong prediction's title is red.
    path: where to write the PNG.
    true_boxes: optional `(n, 4)` ground truth, drawn in `TRUE_BOX_COLOR`.
    predicted_boxes: optional `(n, 4)` boxes from the CAMs, drawn in `PREDICTED_BOX_COLOR`.
    threshold: the CAM threshold (fraction of each map's maximum) of `predicted_boxes`.
    columns: images per row.

  Returns:
    `path`.
  """
  rows = -(-len(pixels) // columns)
  figure, axes = _grid(2 * rows, columns)
  shown = None
  for i, (image, cam) in enumerate(zip(pixels, cams)):
    top, bottom = axes[2 * (i // columns), i % columns], axes[2 * (i // columns) + 1, i % columns]
    top.imshow(image, interpolation='nearest')
    top.set_title(captions[i], fontsize=7, color='black' if correct[i] else 'red')
    bottom.imshow(grey(image), cmap='gray', vmin=0.0, vmax=1.0, interpolation='nearest')
    shown = bottom.imshow(
        cam, cmap=CAM_COLORMAP, alpha=0.6, vmin=0.0, vmax=1.0, interpolation='bilinear'
    )
    if threshold is not None and np.ptp(cam) > 0:
      bottom.contour(cam, levels=[threshold], colors=PREDICTED_BOX_COLOR, linewidths=0.8)
    for boxes, color in ((true_boxes, TRUE_BOX_COLOR), (predicted_boxes, PREDICTED_BOX_COLOR)):
      if boxes is not None:
        _draw_box(top, boxes[i], color)
  figure.colorbar(shown, ax=axes, shrink=0.6, label='CAM (fraction of its maximum)')
  title = 'CAM of the predicted class over the greyed image'
  if true_boxes is not None:
    title += f'; boxes: true ({TRUE_BOX_COLOR})'
  if predicted_boxes is not None:
    title += (
        f', from the CAM at threshold {threshold:.2f} ({PREDICTED_BOX_COLOR}; its contour below)'
    )
  figure.suptitle(title, fontsize=10)
  return save(figure, path)


def new_figure(size: Tuple[float, float]) -> Figure:
  """A figure of `size` inches (constrained layout) for a measure to draw on."""
  return Figure(figsize=size, layout='constrained')


def save(figure: Figure, path: str) -> str:
  """Writes `figure` as a PNG to `path` (its directory made if need be); returns `path`."""
  storage.make_dirs(storage.path(path).parent)
  png = io.BytesIO()
  figure.savefig(png, dpi=100, format='png')
  storage.path(path).write_bytes(png.getvalue())
  return path


def chance_line(ax, chance: Optional[float]) -> None:
  """A dotted line at the top-1 accuracy (%) of guessing."""
  if chance is not None:
    ax.axhline(chance, color='grey', linestyle=':', linewidth=1, label=f'chance ({chance:.0f} %)')
