"""One path layer for every file of a workdir: a local disk and a bucket alike.

Paths are `etils.epath` paths, the layer orbax writes its checkpoints through, so that
`--workdir=gs://bucket/run` (or `s3://`) keeps the config, the metrics, the lock and the
checkpoints together in the bucket. A file that a user may lose is replaced whole, never rewritten
in place (`write_atomic`: a temporary file, then a rename; an object store replaces an object
whole by itself). A bucket cannot append to an object: `append_line` rewrites it there.
"""

import os
from typing import Iterator, Optional, Tuple
import uuid

from etils import epath


def path(location) -> epath.Path:
  """`location` (a str, a `pathlib.Path` or an `epath.Path`) as an `epath.Path`."""
  return epath.Path(location)


def is_local(location) -> bool:
  """Whether `location` is on a local (POSIX) file system rather than in a bucket."""
  return '://' not in os.fspath(location)


def read_text(location, errors: str = 'strict') -> Optional[str]:
  """The text of the file at `location`, or None if there is none (nor a folder to hold it).
  `errors` as for `open` ('replace' reads bytes that are not UTF-8 as U+FFFD)."""
  target = path(location)
  try:
    return target.read_bytes().decode('utf-8', errors=errors)
  except (FileNotFoundError, NotADirectoryError):
    return None


def write_atomic(location, text: str) -> None:
  """Replaces the file at `location` by `text` whole: readers (and a crash at any point) see the
  old file or the new one, never a part of either. On a local disk: a temporary file, then a
  rename; a bucket's object is replaced whole by its store already (no rename, which an object
  store carries out as a copy)."""
  target = path(location)
  if not is_local(location):
    target.write_text(text, encoding='utf-8')
    return
  temporary = target.parent / f'.{target.name}.{uuid.uuid4().hex[:12]}.tmp'
  try:
    temporary.write_text(text, encoding='utf-8')
    temporary.replace(target)
  except OSError as error:  # a full disk names no file: name the one being written
    if error.filename is not None:
      raise
    raise OSError(error.errno, error.strerror, os.fspath(target)) from None
  finally:
    if temporary.exists():
      temporary.unlink()


def append_line(location, line: str) -> None:
  """Appends `line` and a newline to the file at `location` (made if absent)."""
  if is_local(location):
    with open(os.fspath(location), 'a', encoding='utf-8') as f:
      f.write(line + '\n')
    return
  write_atomic(location, (read_text(location) or '') + line + '\n')


def files_below(location, prefix: str = '') -> Iterator[Tuple[str, epath.Path]]:
  """`(relative path, path)` of every file below the folder `location`, in a stable order
  (paths built from the folder's own, so a bucket's keep their `gs://`)."""
  for entry in sorted(path(location).iterdir(), key=lambda entry: entry.name):
    relative = f'{prefix}{entry.name}'
    if entry.is_dir():
      yield from files_below(entry, f'{relative}/')
    else:
      yield relative, entry


def make_dirs(location) -> None:
  path(location).mkdir(parents=True, exist_ok=True)
