"""`report.json` and the console table of one run or of several side by side.

The table is a header (run, data, model, mix method) and then each measure's own lines
(`Measure.table_lines`), built with the helpers here so that the columns line up.
"""

import json
from typing import Callable, List, Sequence

from cutmix_jax.config import storage

LABEL_WIDTH = 24


def write_json(report: dict, path: str) -> str:
  """Writes `report` as indented JSON; returns `path`."""
  storage.make_dirs(storage.path(path).parent)
  storage.write_atomic(path, json.dumps(report, indent=2))
  return path


def column_width(reports: Sequence[dict]) -> int:
  """The width of one run's column: its name and a margin, at least 16."""
  return max(16, max(len(r['run']) for r in reports) + 2)


def row(label: str, cells: Sequence[str], width: int) -> str:
  """A table line: `label` left-aligned, then the cells right-aligned in columns of `width`."""
  return f'{label[: LABEL_WIDTH - 1]:<{LABEL_WIDTH}}' + ''.join(f'{c:>{width}}' for c in cells)


def cells(reports: Sequence[dict], measure: str, read: Callable[[dict], str]) -> List[str]:
  """`read(report[measure])` of every run; 'off' where the measure was switched off."""
  return ['off' if 'skipped' in r[measure] else read(r[measure]) for r in reports]


def measured(reports: Sequence[dict], measure: str) -> List[dict]:
  """The summaries of `measure` of the runs that measured it."""
  return [r[measure] for r in reports if 'skipped' not in r[measure]]


def measure_lines(reports: Sequence[dict], measure: str, rows_of: Callable) -> List[str]:
  """A measure's table lines: `rows_of(summary)` gives `(label, read)` pairs from the first run
  that measured it, and each line shows `read(summary)` of every run ('off' where switched
  off). No run measured it: no lines."""
  summaries = measured(reports, measure)
  if not summaries:
    return []
  width = column_width(reports)
  return [row(label, cells(reports, measure, read), width) for label, read in rows_of(summaries[0])]


def header_lines(reports: Sequence[dict]) -> List[str]:
  """Run names, then what each run trained on and with."""
  width = column_width(reports)
  lines = [row('', [r['run'] for r in reports], width)]
  for label, key in (('data', 'dataset'), ('model', 'model'), ('mix method', 'mix_method')):
    lines.append(row(label, [str(r['config'][key]) for r in reports], width))
  return lines


def format_table(reports: Sequence[dict], measures: Sequence) -> str:
  """The console summary of one run, or of several side by side (same measure settings)."""
  lines = header_lines(reports)
  for measure in measures:
    lines += measure.table_lines(reports)
  return '\n'.join(lines)
