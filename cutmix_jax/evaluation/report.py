"""`report.json` and the console tables of one run or of several side by side."""

import json
import os
from typing import List, Sequence

_LABEL_WIDTH = 24


def write_json(report: dict, path: str) -> str:
  """Writes `report` as indented JSON; returns `path`."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, 'w', encoding='utf-8') as f:
    json.dump(report, f, indent=2)
  return path


def _row(label: str, cells: Sequence[str], width: int) -> str:
  return f'{label:<{_LABEL_WIDTH}}' + ''.join(f'{c:>{width}}' for c in cells)


def _localization_cells(report: dict, variant: str) -> str:
  loc = report['localization']
  if 'best' not in loc:
    return 'n/a'
  if variant == 'top1_loc':
    return f'{loc["best"]["top1_loc"]:.2f} @{loc["best"]["threshold"]:.2f}'
  best = loc['best_gt_known']
  return f'{best["gt_known_loc"]:.2f} @{best["threshold"]:.2f}'


def summary_rows(reports: Sequence[dict]) -> List[str]:
  """One column per run: checkpoint steps, errors and localization at the best threshold."""
  width = max(16, max(len(r['run']) for r in reports) + 2)
  acc = [r['accuracy'] for r in reports]
  lines = [
      _row('', [r['run'] for r in reports], width),
      _row('mix method', [r['config']['mix_method'] for r in reports], width),
  ]
  for name in ('best', 'last'):
    lines.append(_row(f'{name} step', [str(a[name]['step']) for a in acc], width))
    for metric in ('top1_error', 'top5_error'):
      label = f'{name} {metric.replace("_", " ").replace("top", "top-")} (%)'
      lines.append(_row(label, [f'{a[name][metric]:.2f}' for a in acc], width))
  lines.append(
      _row('top-1 loc (%) @thr', [_localization_cells(r, 'top1_loc') for r in reports], width)
  )
  lines.append(
      _row(
          'GT-known loc (%) @thr', [_localization_cells(r, 'gt_known_loc') for r in reports], width
      )
  )
  return lines


def occlusion_rows(reports: Sequence[dict]) -> List[str]:
  """Each occlusion curve of each run as one row of top-1 accuracies (%)."""
  lines = []
  for curve, x_key, header in (
      ('centre', 'hole_fraction', 'hole side (%)'),
      ('boundary', 'hole_fraction', None),
      ('mixup', 'mixup_lambda', 'mixup weight'),
  ):
    xs = reports[0]['occlusion'][x_key]
    if header:
      scale = 100 if x_key == 'hole_fraction' else 1
      lines.append(_row(header, [f'{x * scale:g}' for x in xs], 6))
    for r in reports:
      label = f'{curve} {r["run"]}' if len(reports) > 1 else curve
      lines.append(_row(label[: _LABEL_WIDTH - 1], [f'{v:.1f}' for v in r['occlusion'][curve]], 6))
  return lines


def format_table(reports: Sequence[dict]) -> str:
  """The console summary of one run, or of several side by side (same occlusion settings)."""
  checkpoint = reports[0]['occlusion']['checkpoint']
  return '\n'.join(
      summary_rows(reports)
      + [
          f'top-1 accuracy (%) under occlusion ({checkpoint} checkpoint; '
          f'{reports[0]["occlusion"]["fill"]}):'
      ]
      + occlusion_rows(reports)
  )
