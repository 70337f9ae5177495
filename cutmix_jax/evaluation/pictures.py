"""PNG figures: mixed training images, CAM overlays with boxes, the training curves, and one figure
per robustness measure (occlusion, FGSM, reliability, corruptions).

Figures are drawn on `matplotlib.figure.Figure` objects (Agg canvas), never through pyplot,
so nothing global changes and no display is needed.
"""

import textwrap
from typing import Dict, Optional, Sequence, Tuple

from matplotlib import patches
from matplotlib.figure import Figure
import numpy as np

TRUE_BOX_COLOR = 'lime'
PREDICTED_BOX_COLOR = 'red'
CAM_COLORMAP = 'inferno'  # perceptually uniform, readable over grey
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
  figure.savefig(path, dpi=100)
  return path


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
  figure.savefig(path, dpi=100)
  return path


_CURVES = (
    ('centre', 'hole_fraction', 100.0, 'Centre occlusion', 'hole side (% of image side)'),
    ('boundary', 'hole_fraction', 100.0, 'Boundary occlusion', 'visible side (% of image side)'),
    ('mixup', 'mixup_lambda', 1.0, 'In-between (Mixup) samples', 'weight of the other image'),
)


def _chance_line(ax, chance: Optional[float]) -> None:
  if chance is not None:
    ax.axhline(chance, color='grey', linestyle=':', linewidth=1, label=f'chance ({chance:.0f} %)')


def occlusion_figure(
    curves_by_run: Dict[str, dict], path: str, chance: Optional[float] = None
) -> str:
  """Top-1 accuracy under centre / boundary occlusion and Mixup blends, one line per run.

  Args:
    curves_by_run: run name -> the dict of `occlusion.measure`.
    path: where to write the PNG.
    chance: top-1 accuracy of guessing (100 / K), drawn as a dotted line.

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
    _chance_line(ax, chance)
    ax.set(title=title, xlabel=x_label, ylabel='top-1 accuracy (%)', ylim=(0, 100))
    ax.grid(alpha=0.3)
  axes[0].legend(fontsize=8)
  figure.savefig(path, dpi=100)
  return path


def fgsm_figure(fgsm_by_run: Dict[str, dict], path: str, chance: Optional[float] = None) -> str:
  """Top-1 accuracy against the FGSM epsilon (in 1/255 pixel units), one line per run."""
  figure = Figure(figsize=(4.5, 3.6), layout='constrained')
  ax = figure.subplots()
  for name, fgsm in fgsm_by_run.items():
    ax.plot(fgsm['epsilons_255'], fgsm['accuracy'], marker='o', markersize=3, label=name)
  _chance_line(ax, chance)
  ax.set(title='FGSM', xlabel='epsilon (/255)', ylabel='top-1 accuracy (%)', ylim=(0, 100))
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  figure.savefig(path, dpi=100)
  return path


def reliability_figure(calibration_by_run: Dict[str, dict], path: str) -> str:
  """Reliability diagram: accuracy against confidence per bin, with each run's ECE."""
  figure = Figure(figsize=(4.5, 4.2), layout='constrained')
  ax = figure.subplots()
  ax.plot([0, 1], [0, 1], color='grey', linestyle=':', linewidth=1, label='calibrated')
  for name, calibration in calibration_by_run.items():
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
  figure.savefig(path, dpi=100)
  return path


def corruption_figure(corruptions_by_run: Dict[str, dict], path: str) -> str:
  """Top-1 accuracy against severity, one panel per corruption, one line per run."""
  names = list(next(iter(corruptions_by_run.values()))['accuracy'])
  figure = Figure(figsize=(3.0 * len(names), 3.4), layout='constrained')
  axes = np.atleast_1d(figure.subplots(1, len(names)))
  for ax, corruption in zip(axes, names):
    for run, summary in corruptions_by_run.items():
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
  figure.savefig(path, dpi=100)
  return path


_LINE_STYLES = ('-', '--', ':', '-.')


def curves_figure(curves_by_run: Dict[str, dict], path: str) -> str:
  """Eval top-1 error and train loss against epoch, one line per run (`curves.of_workdir`).

  Runs with the same `label` (mix method) share a colour and differ in line style, so seeds of
  one method read as one family.
  """
  figure = Figure(figsize=(10, 3.8), layout='constrained')
  error_ax, loss_ax = figure.subplots(1, 2)
  colours, seen = {}, {}
  for name, curves in curves_by_run.items():
    label = curves['label']
    colour = colours.setdefault(label, f'C{len(colours)}')
    style = _LINE_STYLES[seen.get(label, 0) % len(_LINE_STYLES)]
    seen[label] = seen.get(label, 0) + 1
    line = dict(color=colour, linestyle=style, label=f'{name} ({label})')
    error_ax.plot(curves['eval_epoch'], curves['eval_top1_error'], marker='o', markersize=3, **line)
    loss_ax.plot(curves['epoch'], curves['train_loss'], **line)
  error_ax.set(title='Eval top-1 error', xlabel='epoch', ylabel='top-1 error (%)')
  loss_ax.set(
      title='Train loss (mean over the epoch)', xlabel='epoch', ylabel='loss', ylim=(0, None)
  )
  for ax in (error_ax, loss_ax):
    ax.grid(alpha=0.3)
  loss_ax.legend(fontsize=8)
  figure.savefig(path, dpi=100)
  return path
