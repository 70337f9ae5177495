"""Faults a user meets: damaged checkpoints, bad workdirs and configs, interruptions, NaN, and a
stop signal to one process of two. Each runs the command line and checks its exit and its one
`error:` line (no traceback)."""

import glob
import json
import os
import random
import signal
import subprocess
import sys

from conftest import REPO
from conftest import start_two_processes
from conftest import train_cli_args
from conftest import wait_for
import pytest

from cutmix_jax.checkpointing import Checkpointer


def _run(args, timeout=600):
  out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=timeout)
  return out.returncode, out.stdout + out.stderr


def _assert_one_error_line(code, output, *needles):
  assert code == 1, output[-3000:]
  assert 'Traceback' not in output, output[-3000:]
  errors = [line for line in output.splitlines() if line.startswith('error: ')]
  assert len(errors) == 1, output[-3000:]
  for needle in needles:
    assert needle in errors[0], errors[0]


def _evaluate(*flags):
  return _run([sys.executable, os.path.join(REPO, 'evaluate.py'), *flags])


def _damage(step_dir):
  """Truncates every data file of a checkpoint step, as a crash during a copy would."""
  for path in glob.glob(os.path.join(step_dir, 'state', 'd', '*')):
    with open(path, 'r+b') as f:
      f.truncate(10)


def test_damaged_newest_checkpoint_falls_back_to_the_older_one(tmp_path):
  code, output = _run(train_cli_args(tmp_path, num_epochs=2))
  assert code == 0, output
  _damage(tmp_path / 'checkpoints' / '16')
  code, output = _evaluate(f'--workdir={tmp_path}')
  assert code == 0, output
  assert 'checkpoint step 16' in output and 'does not restore' in output
  assert os.path.isdir(tmp_path / 'checkpoints' / 'corrupt-16')  # moved aside, not deleted
  code, output = _run(train_cli_args(tmp_path, num_epochs=2))
  assert code == 0, output
  assert 'Resuming from the checkpoint at step 8' in output
  assert Checkpointer(str(tmp_path / 'checkpoints'), keep=2).latest_step() == 16  # saved again


def test_workdir_that_is_a_file(tmp_path):
  workdir = tmp_path / 'run'
  workdir.write_text('not a directory')
  _assert_one_error_line(*_run(train_cli_args(workdir)), 'is a file, not a directory')
  _assert_one_error_line(*_evaluate(f'--workdir={workdir}'), str(workdir))


def test_workdir_that_cannot_be_written():
  _assert_one_error_line(*_run(train_cli_args('/sys/cutmix_jax_run')), 'is not writable')


@pytest.mark.parametrize(
    'flags, needles',
    [
        (['--config.data.source=tfds:cifar1'], ["unknown TFDS dataset 'cifar1'", 'cifar10']),
        (['--config=configs/does_not_exist.py'], ['no such config file']),
        (['--config.mix.alhpa=1'], ['--config.mix.alhpa', 'did you mean --config.mix.alpha?']),
        (['--config.optimizer.learning_rate=1e30'], ['no checkpoint has been saved yet']),
    ],
)
def test_mistakes_stop_with_one_line(tmp_path, flags, needles):
  _assert_one_error_line(*_run(train_cli_args(tmp_path) + flags), *needles)


def _rows(workdir):
  """The rows of `metrics.jsonl` without the timing (images/s differ from run to run)."""
  rows = [json.loads(line) for line in open(os.path.join(workdir, 'metrics.jsonl'))]
  return [{k: v for k, v in row.items() if k != 'images_per_second'} for row in rows]


def _assert_same_rows(rows, expected):
  assert [sorted(r) for r in rows] == [sorted(r) for r in expected]
  for row, want in zip(rows, expected):
    assert row == pytest.approx(want, rel=1e-6), row['step']


def test_saves_between_log_points_drop_no_step_metrics(tmp_path):
  plain, saving = tmp_path / 'plain', tmp_path / 'saving'
  assert _run(train_cli_args(plain, num_epochs=1, log_every_steps=4))[0] == 0
  assert (
      _run(train_cli_args(saving, num_epochs=1, log_every_steps=4, checkpoint_every_steps=3))[0]
      == 0
  )
  # The save at step 3 reads steps 1-3 back; the row at step 4 must still cover steps 1-4.
  _assert_same_rows(_rows(saving), _rows(plain))


def test_resume_after_sigkill_keeps_one_row_per_step_and_whole_epoch_losses(tmp_path):
  overrides = {'num_epochs': 2, 'log_every_steps': 1, 'checkpoint_every_steps': 3}
  straight = tmp_path / 'straight'
  assert _run(train_cli_args(straight, **overrides))[0] == 0
  killed = tmp_path / 'killed'
  process = subprocess.Popen(
      train_cli_args(killed, **overrides),
      cwd=REPO,
      stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT,
      text=True,
  )
  metrics = killed / 'metrics.jsonl'
  wait_for(lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 12, process)
  process.send_signal(signal.SIGKILL)  # after step 11 at least: steps past the save at 9 rerun
  process.wait()
  assert _run(train_cli_args(killed, **overrides))[0] == 0
  rows = _rows(killed)
  steps = [(r['step'], 'epoch_train_loss' in r) for r in rows]
  assert len(steps) == len(set(steps))  # one row per logged step (and one epoch row)
  _assert_same_rows(rows, _rows(straight))  # and epoch losses cover whole epochs


_STOP_SCRIPT = """
import sys
import jax
jax.distributed.initialize(sys.argv[1], 2, int(sys.argv[2]))
from conftest import small_run_config
from cutmix_jax import train_loop
config = small_run_config(num_epochs=50, log_every_steps=2)
result = train_loop.train_and_evaluate(config, sys.argv[3])
print('stopped', result.stopped_by, 'step', result.step)
"""


def test_stop_signal_to_one_of_two_processes_stops_both_at_one_step(tmp_path):
  script = tmp_path / 'stop.py'
  script.write_text(_STOP_SCRIPT)
  workdir = tmp_path / 'run'
  processes = start_two_processes(script, workdir, port=20000 + (os.getpid() + 7) % 20000)
  metrics = workdir / 'metrics.jsonl'
  wait_for(lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 4, processes[0])
  processes[1].send_signal(signal.SIGTERM)  # only the second process is told
  outputs = [p.communicate(timeout=300)[0] for p in processes]
  for process, output in zip(processes, outputs):
    assert process.returncode == 0, output[-3000:]
  stops = [next(line for line in out.splitlines() if line.startswith('stopped')) for out in outputs]
  assert stops[1].startswith('stopped SIGTERM') and 'another process' in stops[0]
  assert stops[0].split()[-1] == stops[1].split()[-1]  # the same step
  saved = Checkpointer(str(workdir / 'checkpoints'), keep=2).latest_step()
  assert str(saved) == stops[0].split()[-1]


# ---------------------------------------------------------------------------------------------
# Fuzz: random invalid configs each stop with one line and exit code 1
# ---------------------------------------------------------------------------------------------
_INVALID = {
    'model': ['resnet', 'resnet_cifar21', 'vit', '7'],
    'dtype': ['float8', 'int32', 'bf16'],
    'mix.method': ['cutmixx', 'mixcut', 'None'],
    'mix.prob': ['1.5', '-0.1', '2'],
    'mix.alpha': ['0', '-1.0'],
    'mix.partners': ['all', 'host'],
    'mix.cutout_size': ['0', '-4'],
    'data.source': ['imagenet', 'folder:', 'tfds:', 'hf:cifar10', 'folder:/no/such/dir'],
    'data.holdout_per_class': ['-1'],
    'data.train_per_class': ['-3'],
    'batch_size': ['0', '-8', '100', 'abc'],
    'eval_batch_size': ['0', '12'],
    'num_epochs': ['0', '-1'],
    'log_every_steps': ['0'],
    'eval_every_epochs': ['0', '-2'],
    'keep_checkpoints': ['0'],
    'label_smoothing': ['1.0', '-0.5'],
    'optimizer.learning_rate': ['0', '-0.1'],
    'no_such_key': ['1'],
}


def test_fuzz_invalid_configs_stop_with_one_line(tmp_path):
  rng = random.Random(0)
  cases = [(key, rng.choice(values)) for key, values in sorted(_INVALID.items())]
  for i, (key, value) in enumerate(cases):
    workdir = tmp_path / f'run{i}'
    code, output = _run(train_cli_args(workdir) + [f'--config.{key}={value}'])
    _assert_one_error_line(code, output)
    assert not (workdir / 'checkpoints').exists(), (key, value)
