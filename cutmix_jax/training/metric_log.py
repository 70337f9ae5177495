"""Metrics to `WORKDIR/metrics.jsonl` (one JSON object per logged step) and TensorBoard.

TensorBoard events are written with the `tensorboard` package alone (no TensorFlow import).
"""

import contextlib
import json
import os
import socket
import time

from tensorboard.compat.proto import event_pb2
from tensorboard.compat.proto import summary_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

from cutmix_jax.config import workdir_files


def _open_event_file(path: str) -> RecordWriter:
  """The TensorBoard event file `path`, written without tf.io.gfile (so without TensorFlow)."""
  writer = RecordWriter(open(path, 'wb'))
  header = event_pb2.Event(wall_time=time.time(), file_version='brain.Event:2')
  writer.write(header.SerializeToString())
  return writer


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
  crash is skipped."""
  path = workdir_files.metrics_path(workdir)
  if not os.path.isfile(path):
    return []
  rows = []
  with open(path, encoding='utf-8', errors='replace') as f:
    for line in f:
      try:
        rows.append(json.loads(line))
      except ValueError:
        pass
  return rows


class MetricLog:
  """Appends `{'step', 'epoch', **scalars}` lines and TensorBoard scalars; a no-op if disabled.

  Only process 0 of a multi-host run should write: pass `enabled=False` elsewhere.
  """

  def __init__(self, workdir: str, enabled: bool = True):
    self.enabled = enabled
    if not enabled:
      return
    os.makedirs(workdir, exist_ok=True)
    self._path = workdir_files.metrics_path(workdir)
    self._jsonl = open(self._path, 'a', encoding='utf-8')
    name = f'events.out.tfevents.{time.time():.0f}.{socket.gethostname()}.{os.getpid()}'
    self._events_path = os.path.join(workdir, name)
    self._events = _open_event_file(self._events_path)

  def cut_after(self, step: int) -> None:
    """Drops the `metrics.jsonl` rows past `step` (a resumed run logs those steps again).

    A last line cut short by a crash is dropped too. (TensorBoard event files are append-only:
    the old events of those steps stay in the older file.)
    """
    if not self.enabled:
      return
    self._jsonl.close()
    kept = [
        row for row in read_rows(os.path.dirname(self._path)) if row.get('step', step + 1) <= step
    ]
    with open(self._path, 'w', encoding='utf-8') as f:
      f.writelines(json.dumps(row) + '\n' for row in kept)
    self._jsonl = open(self._path, 'a', encoding='utf-8')

  def start_fresh(self, say) -> None:
    """A run that starts from step 0: rows of an earlier run (its checkpoints are gone) are
    moved to `metrics.jsonl.old-<time>`, with a line, never deleted."""
    if not self.enabled or not read_rows(os.path.dirname(self._path)):
      return
    self._jsonl.close()
    kept = f'{self._path}.old-{time.strftime("%Y%m%d-%H%M%S")}'
    os.replace(self._path, kept)
    say(f'No checkpoint to resume from, but metrics.jsonl held rows: moved to {kept}')
    self._jsonl = open(self._path, 'a', encoding='utf-8')

  def write(self, step: int, epoch: float, scalars: dict) -> None:
    if not self.enabled:
      return
    record = {'step': int(step), 'epoch': round(float(epoch), 4)}
    record.update({name: float(value) for name, value in scalars.items()})
    with _naming(self._path):
      self._jsonl.write(json.dumps(record) + '\n')
      self._jsonl.flush()
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

  def close(self) -> None:
    if self.enabled:
      self._jsonl.close()
      self._events.close()
