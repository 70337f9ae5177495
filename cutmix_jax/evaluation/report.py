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
  """Each occlusion curve of each run as one row of top-1 accuracies (%) under its x axis."""
  lines = []
  for curve, x_key, header, scale in (
      ('centre', 'hole_fraction', 'hole side (%)', 100),
      ('boundary', 'hole_fraction', 'visible side (%)', 100),
      ('mixup', 'mixup_lambda', 'mixup weight', 1),
  ):
    lines.append(_row(header, [f'{x * scale:g}' for x in reports[0]['occlusion'][x_key]], 6))
    for r in reports:
      label = f'{curve} {r["run"]}' if len(reports) > 1 else curve
      lines.append(_row(label[: _LABEL_WIDTH - 1], [f'{v:.1f}' for v in r['occlusion'][curve]], 6))
  return lines


def _cells(reports: Sequence[dict], measure: str, read) -> List[str]:
  """`read(report[measure])` formatted per run; 'off' where the measure was switched off."""
  return ['off' if 'skipped' in r[measure] else read(r[measure]) for r in reports]


def measure_rows(reports: Sequence[dict]) -> List[str]:
  """Calibration, FGSM, OOD detection and corruption rows of every measure some run has."""
  width = max(16, max(len(r['run']) for r in reports) + 2)
  on = lambda measure: [r[measure] for r in reports if 'skipped' not in r[measure]]
  rows = []
  if on('calibration'):
    rows.append(('ECE (%, 15 bins)', _cells(reports, 'calibration', lambda m: f'{m["ece"]:.2f}')))
    rows.append(('NLL (nats)', _cells(reports, 'calibration', lambda m: f'{m["nll"]:.3f}')))
  if on('fgsm'):
    for i, eps in enumerate(on('fgsm')[0]['epsilons_255']):
      read = lambda m, i=i: f'{m["accuracy"][i]:.2f}'
      rows.append((f'FGSM {eps:g}/255 acc (%)', _cells(reports, 'fgsm', read)))
  if on('ood'):
    for name in on('ood')[0]:
      read = lambda m, name=name: f'{m[name]["auroc"]:.2f} / {m[name]["fpr_at_95_tpr"]:.1f}'
      rows.append((f'OOD {name}'[: _LABEL_WIDTH - 1], _cells(reports, 'ood', read)))
  if on('corruptions'):
    for name in on('corruptions')[0]['mean_by_corruption']:
      read = lambda m, name=name: f'{m["mean_by_corruption"][name]:.2f}'
      rows.append((f'{name} acc (%)', _cells(reports, 'corruptions', read)))
    rows.append(
        ('corruptions mean (%)', _cells(reports, 'corruptions', lambda m: f'{m["mean"]:.2f}'))
    )
  lines = [_row(label, cells, width) for label, cells in rows]
  if on('ood'):
    lines.append('OOD rows: AUROC (%) / FPR at 95 % TPR (%) of the max-softmax score')
  return lines


def format_table(reports: Sequence[dict]) -> str:
  """The console summary of one run, or of several side by side (same measure settings)."""
  lines = summary_rows(reports) + measure_rows(reports)
  if all('skipped' not in r['occlusion'] for r in reports):
    occlusion = reports[0]['occlusion']
    lines.append(
        f'top-1 accuracy (%) under occlusion ({occlusion["checkpoint"]} checkpoint; '
        f'{occlusion["fill"]}):'
    )
    lines += occlusion_rows(reports)
  return '\n'.join(lines)
