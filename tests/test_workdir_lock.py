"""One workdir, one run: a live holder refuses a second training, a gone one is taken over."""

import json
import os
import socket
import subprocess
import sys
import time

from conftest import train_cli_args
from conftest import wait_for
import pytest

from cutmix_jax.training import workdir_lock
from cutmix_jax.training.workdir_lock import WorkdirInUseError
from cutmix_jax.training.workdir_lock import WorkdirLock


def _dead_pid() -> int:
  process = subprocess.Popen([sys.executable, '-c', 'pass'])
  process.wait()
  return process.pid


def _hold(workdir, host, pid, age=0.0):
  path = os.path.join(workdir, 'run.lock')
  with open(path, 'w', encoding='utf-8') as f:
    json.dump({'host': host, 'pid': pid, 'since': time.time() - age}, f)
  os.utime(path, (time.time() - age, time.time() - age))


HERE, LIVE, GONE = socket.gethostname(), 'this process', 'a process that ended'


@pytest.mark.parametrize(
    'host, pid, age, refused',
    [
        (HERE, LIVE, 0.0, True),  # a live process here
        (HERE, GONE, 0.0, False),  # a process here that is gone (kill -9)
        ('other-host', 1, 10.0, True),  # another host, heartbeat fresh
        ('other-host', 1, workdir_lock.STALE_SECONDS + 60, False),  # a lost host
    ],
    ids=['live-here', 'gone-here', 'other-host-fresh', 'other-host-stale'],
)
def test_a_live_holder_refuses_and_a_gone_one_is_taken_over(tmp_path, host, pid, age, refused):
  pid = {LIVE: os.getpid(), GONE: _dead_pid()}.get(pid, pid)
  _hold(tmp_path, host, pid, age)
  said = []
  if refused:
    with pytest.raises(WorkdirInUseError, match=rf'is in use by a live training \(host {host}'):
      WorkdirLock(str(tmp_path), said.append).__enter__()
    assert os.path.exists(tmp_path / 'run.lock') and not said
    return
  with WorkdirLock(str(tmp_path), said.append):
    held = json.load(open(tmp_path / 'run.lock'))
    assert held['pid'] == os.getpid() and held['host'] == socket.gethostname()
  assert len(said) == 1 and said[0].startswith('Taking over the lock of a run that ended')
  assert not os.path.exists(tmp_path / 'run.lock')  # released on exit


def test_the_lock_is_released_when_the_run_fails(tmp_path):
  with pytest.raises(RuntimeError):
    with WorkdirLock(str(tmp_path), print):
      raise RuntimeError('a failing run')
  assert not os.path.exists(tmp_path / 'run.lock')


@pytest.mark.slow
def test_a_second_training_on_a_live_workdir_stops_in_one_line(train_cli, tmp_path):
  longer = {'data.synthetic_num_train': 2048, 'num_epochs': 20}
  first = train_cli(tmp_path, **longer)
  try:
    wait_for(lambda: (tmp_path / 'metrics.jsonl').exists(), first)
    second = subprocess.run(
        train_cli_args(tmp_path, **longer), capture_output=True, text=True, timeout=300
    )
    assert second.returncode == 1
    assert second.stdout == ''
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f'error: --workdir={tmp_path} is in use by a')
    assert f'pid {first.pid}' in lines[0] and 'Traceback' not in second.stderr
    first.kill()  # kill -9: the lock stays behind
    first.wait()
    assert os.path.exists(tmp_path / 'run.lock')
    third = subprocess.run(
        train_cli_args(tmp_path, num_train_steps=1, **longer),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert third.returncode == 0, third.stderr
    assert f'Taking over the lock of a run that ended (host {socket.gethostname()}, pid' in (
        third.stdout + third.stderr
    )
  finally:
    first.kill()
