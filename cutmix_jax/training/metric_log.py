"""Metrics to `WORKDIR/metrics.jsonl` (one JSON object per logged step) and TensorBoard.

TensorBoard events are written with the `tensorboard` package alone (no TensorFlow import); every
file goes through `storage`, so a bucket workdir holds them too.
"""

import contextlib
import io
import json
import os
import socket
import time

from tensorboard.compat.proto import event_pb2
from tensorboard.compat.proto import summary_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

from cutmix_jax.config import storage
from cutmix_jax.config import workdir_files


@contextlib.contextmanager
def _naming(path: str):
  """A failed write that names no file (a full disk: the error of a flush) names `path`."""
  try:
    yield
  except OSError as error:
    if error.filename is not None:
      raise
    raise OSError(error.errno, error.strerror, path) from None


def tensorboard_tag(name: str) -> str:
  """A metric's TensorBoard tag, in a `train/` or `eval/` group ('eval_top1_error' ->
  'eval/top1_error', 'learning_rate' -> 'train/learning_rate'); `metrics.jsonl` keeps the name."""
  group = 'eval' if 'eval_' in name else 'train'
  return f'{group}/{name.replace(group + "_", "", 1)}'


def read_rows(workdir: str) -> list:
  """The rows of `WORKDIR/metrics.jsonl` in order ([] if there is none); a line cut short by a
  crash, or damaged (bytes that are not UTF-8 included), is skipped."""
  path = workdir_files.metrics_path(workdir)
  if storage.is_local(path) and not os.path.isfile(path):
    return []  # absent, or not a file (a device): nothing to read
  rows = []
  for line in (storage.read_text(path, errors='replace') or '').splitlines():
    try:
      rows.append(json.loads(line))
    except ValueError:
      pass
  return rows


def _as_text(rows) -> str:
  return ''.join(json.dumps(row) + '\n' for row in rows)


class MetricLog:
  """Appends `{'step', 'epoch', **scalars}` rows to `metrics.jsonl`, and TensorBoard scalars; a
  no-op if disabled (only process 0 of a multi-host run writes).

  On a local disk each row is appended and flushed as it comes. A bucket cannot append to an
  object, so there the rows and events since the last `persist()` are kept and written then
  (the loop persists at every checkpoint and at the end): a run cut short resumes from its last
  checkpoint, and drops the rows past it anyway.
  """

  def __init__(self, workdir: str, enabled: bool = True):
    self.enabled = enabled
    if not enabled:
      return
    storage.make_dirs(workdir)
    self._workdir, self._path = workdir, workdir_files.metrics_path(workdir)
    self._local = storage.is_local(workdir)
    self._rows = [] if self._local else read_rows(workdir)  # a bucket's whole file, kept
    self._jsonl = open(self._path, 'a', encoding='utf-8') if self._local else None
    self._events_parts = 0
    self._open_events()

  def _open_events(self) -> None:
    """A new TensorBoard event file (in a bucket, a buffer that `persist` writes as one)."""
    self._events_parts += 1
    name = f'events.out.tfevents.{time.time():.0f}.{socket.gethostname()}.{os.getpid()}'
    name += '' if self._local else f'.{self._events_parts}'
    self._events_path = os.path.join(self._workdir, name)
    self._events_file = open(self._events_path, 'wb') if self._local else io.BytesIO()
    self._events = RecordWriter(self._events_file)
    self._events_unwritten = False  # events since the last persist (a bucket's buffer)
    header = event_pb2.Event(wall_time=time.time(), file_version='brain.Event:2')
    self._events.write(header.SerializeToString())

  def _replace_rows(self, rows) -> None:
    """metrics.jsonl replaced by `rows`, whole (a stop at any moment keeps the old file)."""
    if self._local:
      self._jsonl.close()
    with _naming(self._path):
      storage.write_atomic(self._path, _as_text(rows))
    if self._local:
      self._jsonl = open(self._path, 'a', encoding='utf-8')
    else:
      self._rows = list(rows)

  def cut_after(self, step: int) -> None:
    """Drops the `metrics.jsonl` rows past `step` (a resumed run logs those steps again).

    A last line cut short by a crash is dropped too. The file is replaced, never rewritten in
    place: a stop during the cut keeps every row. (TensorBoard event files are append-only: the
    old events of those steps stay in the older file.)
    """
    if not self.enabled:
      return
    rows = read_rows(self._workdir) if self._local else self._rows
    kept = [row for row in rows if row.get('step', step + 1) <= step]
    if len(kept) != len(rows) or self._local:
      self._replace_rows(kept)

  def start_fresh(self, say) -> None:
    """A run that starts from step 0: rows of an earlier run (its checkpoints are gone) are
    moved to `metrics.jsonl.old-<time>`, with a line, never deleted."""
    if not self.enabled or not read_rows(self._workdir):
      return
    kept = f'{self._path}.old-{time.strftime("%Y%m%d-%H%M%S")}'
    if self._local:
      self._jsonl.close()
    storage.path(self._path).rename(kept)
    say(f'No checkpoint to resume from, but metrics.jsonl held rows: moved to {kept}')
    if self._local:
      self._jsonl = open(self._path, 'a', encoding='utf-8')
    self._rows = []

  def write(self, step: int, epoch: float, scalars: dict) -> None:
    if not self.enabled:
      return
    record = {'step': int(step), 'epoch': round(float(epoch), 4)}
    record.update({name: float(value) for name, value in scalars.items()})
    if self._local:
      with _naming(self._path):
        self._jsonl.write(json.dumps(record) + '\n')
        self._jsonl.flush()
    else:
      self._rows.append(record)
    values = [
        summary_pb2.Summary.Value(tag=tensorboard_tag(name), simple_value=float(value))
        for name, value in scalars.items()
    ]
    event = event_pb2.Event(
        wall_time=time.time(), step=int(step), summary=summary_pb2.Summary(value=values)
    )
    with _naming(self._events_path):
      self._events.write(event.SerializeToString())
      self._events.flush()
    self._events_unwritten = True

  def persist(self) -> None:
    """Writes what a bucket holds back (the rows, the events since the last call); on a local
    disk everything is written already."""
    if not self.enabled or self._local:
      return
    with _naming(self._path):
      storage.write_atomic(self._path, _as_text(self._rows))
    if self._events_unwritten:
      storage.path(self._events_path).write_bytes(self._events_file.getvalue())
      self._open_events()

  def close(self) -> None:
    if self.enabled:
      self.persist()
      if self._local:
        self._jsonl.close()
        self._events.close()
