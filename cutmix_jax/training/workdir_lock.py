"""One workdir, one run: `WORKDIR/run.lock` says who trains there (host, pid, since when).

A second training on a workdir that a live run holds stops in one line naming the holder. A
lock whose run is gone is taken over with a line: on this host, a holder whose process no longer
exists; on another host (a lost machine), one whose heartbeat, the lock file's time, a thread of
the live run refreshes every `HEARTBEAT_SECONDS`, is older than `STALE_SECONDS`. Multi-host runs
share one lock, held by process 0. Evaluation never takes it (it may run beside a training).
"""

import json
import os
import socket
import threading
import time
from typing import Callable, Optional

from cutmix_jax.config import workdir_files
from cutmix_jax.errors import UserError

HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 300.0


class WorkdirInUseError(UserError, RuntimeError):
  """The workdir is held by a live run; the message names it."""


def _alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # another user's live process
    return True
  return True


def _describe(holder: dict) -> str:
  since = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(holder.get('since', 0)))
  return f'host {holder.get("host")}, pid {holder.get("pid")}, since {since}'


def _gone(holder: dict, age: float) -> Optional[str]:
  """Why the holder's run is over, or None if it may be alive."""
  if holder.get('host') == socket.gethostname():
    return None if _alive(int(holder.get('pid', -1))) else 'its process no longer exists'
  if age > STALE_SECONDS:
    return f'its heartbeat stopped {age:.0f} s ago'
  return None


class WorkdirLock:
  """Holds `WORKDIR/run.lock` while a run trains (a context manager). A workdir that it made
  and that is empty when the lock goes (a run that stopped before writing) is removed again."""

  def __init__(self, workdir: str, say: Callable[[str], None]):
    self.path = workdir_files.lock_path(workdir)
    self.workdir, self.say = workdir, say
    self._stop = threading.Event()
    self._beat: Optional[threading.Thread] = None
    self._made_workdir = False

  def _create(self) -> bool:
    """Writes the lock if there is none; whether it did."""
    try:
      descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
      return False
    holder = {'host': socket.gethostname(), 'pid': os.getpid(), 'since': time.time()}
    with os.fdopen(descriptor, 'w', encoding='utf-8') as f:
      json.dump(holder, f)
    return True

  def _take_over_if_gone(self) -> None:
    try:
      with open(self.path, encoding='utf-8') as f:
        holder = json.load(f)
      age = time.time() - os.path.getmtime(self.path)
    except FileNotFoundError:
      return  # released meanwhile: try again
    except (OSError, ValueError):
      holder, age = {}, STALE_SECONDS + 1.0  # unreadable: a write cut short
    why = _gone(holder, age) if holder else 'it is unreadable'
    if why is None:
      raise WorkdirInUseError(
          f'--workdir={self.workdir} is in use by a live training ({_describe(holder)}); '
          'wait for it, stop it, or use another --workdir'
      )
    self.say(f'Taking over the lock of a run that ended ({_describe(holder)}: {why})')
    os.remove(self.path)

  def _heartbeat(self) -> None:
    while not self._stop.wait(HEARTBEAT_SECONDS):
      try:
        os.utime(self.path)
      except OSError:
        return

  def __enter__(self) -> 'WorkdirLock':
    self._made_workdir = not os.path.isdir(self.workdir)
    os.makedirs(self.workdir, exist_ok=True)
    for _ in range(3):  # another start may race for a lock just taken over
      if self._create():
        self._beat = threading.Thread(target=self._heartbeat, daemon=True)
        self._beat.start()
        return self
      self._take_over_if_gone()
    raise WorkdirInUseError(f'--workdir={self.workdir}: another training keeps taking its lock')

  def __exit__(self, *exc) -> None:
    self._stop.set()
    try:
      os.remove(self.path)
    except FileNotFoundError:
      pass
    if self._made_workdir and not os.listdir(self.workdir):
      os.rmdir(self.workdir)
