"""One workdir, one run: a live training refuses a second one; a killed one (kill -9, a container's
PID 1), a lock file with a bad pid and a race of two starts all come out right: the lock is the
kernel's, so no pid is guessed at."""

import json
import os
import socket
import subprocess
import sys
import textwrap

from conftest import REPO
from conftest import train_cli_args
from conftest import wait_for
import pytest

from cutmix_jax.training import workdir_lock
from cutmix_jax.training.workdir_lock import WorkdirLock


def test_the_lock_is_released_when_the_run_fails(tmp_path):
  with pytest.raises(RuntimeError):
    with WorkdirLock(str(tmp_path), print):
      raise RuntimeError('a failing run')
  assert not os.path.exists(tmp_path / 'run.lock')


_HOLD = textwrap.dedent("""
    import sys, time
    from cutmix_jax.training.workdir_lock import WorkdirLock, WorkdirInUseError
    try:
      with WorkdirLock(sys.argv[1], print):
        print('held', flush=True)
        time.sleep(float(sys.argv[2]))
    except WorkdirInUseError as error:
      print('refused:', error, flush=True)
""")


def _hold(workdir, seconds):
  return subprocess.Popen([sys.executable, '-c', _HOLD, str(workdir), str(seconds)], cwd=REPO,
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip


@pytest.mark.parametrize(
    'left_behind',
    [
        {'host': os.uname().nodename, 'pid': 1, 'since': 0},  # a container's PID 1, kill -9
        {'host': os.uname().nodename, 'pid': 'abc', 'since': 'x'},  # a lock file with a bad pid
        'not json',
    ],
    ids=['pid-1', 'bad-pid', 'unreadable'],
)
def test_a_lock_left_by_a_dead_run_is_taken_without_guessing_at_pids(tmp_path, left_behind):
  text = left_behind if isinstance(left_behind, str) else json.dumps(left_behind)
  (tmp_path / 'run.lock').write_text(text)
  with workdir_lock.WorkdirLock(str(tmp_path), print):  # nobody holds the kernel's lock
    held = json.loads((tmp_path / 'run.lock').read_text())
    assert held['pid'] == os.getpid()
  assert not (tmp_path / 'run.lock').exists()


def test_a_live_run_holds_the_lock_and_is_named(tmp_path):
  holder = _hold(tmp_path, 30)
  try:
    assert holder.stdout.readline().strip() == 'held'
    with pytest.raises(workdir_lock.WorkdirInUseError) as refused:
      workdir_lock.WorkdirLock(str(tmp_path), print).__enter__()
    assert f'is in use by a live training (host {os.uname().nodename}, pid {holder.pid}' in str(
        refused.value
    )
  finally:
    holder.kill()
    holder.wait()
  # kill -9: the kernel let the lock go with the process; the next run takes it at once.
  with workdir_lock.WorkdirLock(str(tmp_path), print):
    pass


@pytest.mark.slow  # 40 processes
def test_two_runs_that_start_at_once_never_both_hold_the_lock(tmp_path):
  for trial in range(20):
    workdir = tmp_path / str(trial)
    workdir.mkdir()
    (workdir / 'run.lock').write_text(json.dumps({'host': 'gone', 'pid': 1, 'since': 0}))
    runs = [_hold(workdir, 2) for _ in range(2)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    held = [out for out in outputs if 'held' in out.splitlines()]
    assert len(held) == 1, (trial, outputs)


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
