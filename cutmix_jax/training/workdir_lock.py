"""One workdir, one run: `WORKDIR/run.lock` says who trains there (host, pid, since when).

On a local disk the lock is the kernel's (`fcntl.flock` on the lock file): it is held while the
run's process lives and released by the kernel when it ends, however it ends (kill -9 included),
so no process id is ever guessed at: a container's PID 1, a pid that was reused, two runs that
start at once all come out right. The file's text only names the holder for the message.
A bucket (`gs://`, `s3://`) has no such lock: there the lock is a file whose time a thread of the
live run refreshes every `HEARTBEAT_SECONDS`. It is taken over when its holder is known gone: on
this host, a process that no longer exists or this very process id (a restarted container's
PID 1: no live process shares it); elsewhere, a heartbeat older than `STALE_SECONDS`. Two runs
started on one bucket workdir within seconds of each other may both take it: start one.
Multi-host runs share one lock, held by process 0. Evaluation never takes it.
"""

import errno
import fcntl
import json
import os
import socket
import threading
import time
from typing import Callable, Optional

from cutmix_jax.config import storage
from cutmix_jax.config import workdir_files
from cutmix_jax.errors import UserError

HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 300.0


class WorkdirInUseError(UserError, RuntimeError):
  """The workdir is held by a live run; the message names it."""


def _holder_text() -> str:
  return json.dumps({'host': socket.gethostname(), 'pid': os.getpid(), 'since': time.time()})


def _describe(text: Optional[str]) -> str:
  """The holder a lock file's text names, in words (whatever the text holds)."""
  try:
    holder = json.loads(text or '')
    since = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(float(holder['since'])))
    return f'host {holder["host"]}, pid {holder["pid"]}, since {since}'
  except (ValueError, KeyError, TypeError, OverflowError, OSError):
    return 'holder unknown: its lock file is unreadable'


def _alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # another user's live process
    return True
  return True


def _gone(text: Optional[str], age: float) -> Optional[str]:
  """Why the holder of a bucket's lock (its file's text, its heartbeat's age) is gone, or None
  if it may be alive."""
  try:
    holder = json.loads(text or '')
    host, pid = holder['host'], int(holder['pid'])
  except (ValueError, KeyError, TypeError):
    host, pid = None, None
  if host == socket.gethostname() and pid is not None and pid > 0:
    if pid == os.getpid():
      return 'it named this process id, which no other live process can hold'
    if not _alive(pid):
      return 'its process no longer exists'
  if age > STALE_SECONDS:
    return f'its heartbeat stopped {age:.0f} s ago'
  return None


class WorkdirLock:
  """Holds `WORKDIR/run.lock` while a run trains (a context manager). A workdir that it made
  and that is empty when the lock goes (a run that stopped before writing) is removed again."""

  def __init__(self, workdir: str, say: Callable[[str], None]):
    self.path = workdir_files.lock_path(workdir)
    self.workdir, self.say = workdir, say
    self._local = storage.is_local(workdir)
    self._file = None
    self._held_bucket = False
    self._stop = threading.Event()
    self._made_workdir = False

  def _in_use(self, text: Optional[str]) -> WorkdirInUseError:
    return WorkdirInUseError(
        f'--workdir={self.workdir} is in use by a live training ({_describe(text)}); '
        'wait for it, stop it, or use another --workdir'
    )

  def _lock_local(self) -> None:
    """Takes the kernel's lock on the lock file, then names this process in it."""
    while True:
      handle = open(self.path, 'a+', encoding='utf-8')  # pylint: disable=consider-using-with
      try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except OSError as error:
        handle.close()
        if error.errno not in (errno.EAGAIN, errno.EACCES):
          raise
        raise self._in_use(storage.read_text(self.path)) from None
      try:
        same_file = os.stat(self.path).st_ino == os.fstat(handle.fileno()).st_ino
      except FileNotFoundError:
        same_file = False
      if same_file:  # not a file that its last holder removed meanwhile
        break
      handle.close()
    self._file = handle
    handle.seek(0)
    left = handle.read()
    if left.strip():  # a run that ended without letting go of its file (kill -9, a lost power)
      self.say(f'Taking over the lock of a run that ended ({_describe(left)})')
    try:
      handle.seek(0)
      handle.truncate()
      handle.write(_holder_text())
      handle.flush()
    except OSError as error:  # a full disk: name the file
      raise OSError(error.errno, error.strerror, self.path) from None

  def _lock_bucket(self) -> None:
    """Takes the heartbeat lock of a bucket workdir (see the module docstring)."""
    target = storage.path(self.path)
    if target.exists():
      text = storage.read_text(self.path)
      why = _gone(text, time.time() - target.stat().mtime)
      if why is None:
        raise self._in_use(text)
      self.say(f'Taking over the lock of a run that ended ({_describe(text)}: {why})')
    storage.write_atomic(self.path, _holder_text())
    self._held_bucket = True
    threading.Thread(target=self._heartbeat, daemon=True).start()

  def _heartbeat(self) -> None:
    while not self._stop.wait(HEARTBEAT_SECONDS):
      try:
        storage.write_atomic(self.path, _holder_text())
      except OSError:
        return

  def __enter__(self) -> 'WorkdirLock':
    self._made_workdir = not storage.path(self.workdir).is_dir()
    storage.make_dirs(self.workdir)
    try:
      if self._local:
        self._lock_local()
      else:
        self._lock_bucket()
    except BaseException:
      self._release()
      raise
    return self

  def __exit__(self, *exc) -> None:
    self._release()

  def _release(self) -> None:
    """Removes the lock file if this run holds it, lets the lock go, and a workdir it made."""
    self._stop.set()
    if self._file is not None or self._held_bucket:
      try:
        storage.path(self.path).unlink()  # before the kernel's lock goes: no one holds it then
      except FileNotFoundError:
        pass
    if self._file is not None:
      try:
        self._file.close()  # releases the kernel's lock (the file closes even if this raises)
      except OSError:
        pass  # the flush of a write that failed already (a full disk), of a file removed above
    self._file, self._held_bucket = None, False
    self._remove_made_workdir()

  def _remove_made_workdir(self) -> None:
    workdir = storage.path(self.workdir)
    if self._made_workdir and workdir.is_dir() and not any(workdir.iterdir()):
      workdir.rmdir()
