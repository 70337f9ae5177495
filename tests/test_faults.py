"""Faults a user meets: damaged checkpoints, bad workdirs and configs, interruptions, NaN, and a
stop signal to one process of two. Each runs the command line and checks its exit and its one
`error:` line (no traceback)."""

import glob
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys

from conftest import REPO
from conftest import free_port
from conftest import start_two_processes
from conftest import train_cli_args
from conftest import wait_for
from PIL import Image
import pytest

from cutmix_jax.training.checkpointing import Checkpointer

pytestmark = pytest.mark.slow  # subprocess trainings and fault injections


def _run(args, timeout=600, env=None):
  out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)
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


_ACCURACY_ONLY = ('--nofgsm', '--nocorruptions', '--noocclusion', '--ood=')


def _damage(step_dir):
  """Truncates every data file of a checkpoint step, as a crash during a copy would."""
  for path in glob.glob(os.path.join(step_dir, 'state', 'd', '*')):
    with open(path, 'r+b') as f:
      f.truncate(10)


def test_damaged_newest_checkpoint_falls_back_to_the_older_one(tmp_path):
  code, output = _run(train_cli_args(tmp_path, num_epochs=2))
  assert code == 0, output
  _damage(tmp_path / 'checkpoints' / '16')
  code, output = _evaluate(f'--workdir={tmp_path}', *_ACCURACY_ONLY)
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


def test_evaluate_names_the_runs_config_for_an_unknown_field(tmp_path):
  # evaluate.py applies overrides to the run's config.json, not to configs/default.py.
  code, output = _evaluate(f'--workdir={tmp_path}', '--config.data.seed=1')
  _assert_one_error_line(code, output, "the run's config.json has no such field", '--config.seed')


def test_workdir_that_cannot_be_written():
  _assert_one_error_line(*_run(train_cli_args('/sys/cutmix_jax_run')), 'is not writable')


@pytest.mark.parametrize(
    'overrides, flags, needles',
    [
        ({'data__source': 'tfds:cifar1'}, [], ["unknown TFDS dataset 'cifar1'", 'cifar10']),
        ({}, ['--config=configs/does_not_exist.py'], ['no such config file']),
        ({}, ['--config.mix.alhpa=1'], ['--config.mix.alhpa', 'did you mean --config.mix.alpha?']),
        ({}, ['--config.data.seed=1'], ['did you mean --config.seed?']),  # a field elsewhere
        ({}, ['--config.eval_batchsize=8'], ['did you mean --config.eval_batch_size?']),
        ({'optimizer__learning_rate': 1e30}, [], ['no checkpoint has been saved yet']),
        ({}, ['--config.num_epochs=3'], ['--config.num_epochs is given twice']),
        (
            {'data__source': 'folder:{one_class}'},
            [],
            ['has 1 class; classification needs 2 or more'],
        ),
    ],
)
def test_mistakes_stop_with_one_line(tmp_path, overrides, flags, needles):
  one_class = tmp_path / 'one_class' / 'train' / 'cat'
  one_class.mkdir(parents=True)
  Image.new('RGB', (8, 8)).save(one_class / '0.png')
  overrides = {k: str(v).format(one_class=tmp_path / 'one_class') for k, v in overrides.items()}
  _assert_one_error_line(*_run(train_cli_args(tmp_path / 'run', **overrides) + flags), *needles)


def test_a_tfds_typo_is_one_line_with_tensorflow_quiet_and_no_workdir_left(tmp_path):
  # Outside CI, as a user runs it: TensorFlow's start-up notices (oneDNN, CPU features) and
  # the GCS-credentials warning of listing TFDS's community sets used to come first.
  env = {k: v for k, v in os.environ.items() if k not in ('CI', 'TF_CPP_MIN_LOG_LEVEL')}
  workdir = tmp_path / 'run'
  code, output = _run(train_cli_args(workdir, data__source='tfds:cifar1O'), env=env)
  _assert_one_error_line(code, output, "unknown TFDS dataset 'cifar1O'", 'cifar10')
  assert output.strip().splitlines() == [output.strip()], output
  assert not workdir.exists()  # the probe of --workdir made it, and took it away again


def _rows(workdir):
  """The rows of `metrics.jsonl` without the timing (images/s differ from run to run)."""
  rows = [json.loads(line) for line in open(os.path.join(workdir, 'metrics.jsonl'))]
  return [{k: v for k, v in row.items() if k != 'images_per_second'} for row in rows]


def _assert_same_rows(rows, expected):
  assert [sorted(r) for r in rows] == [sorted(r) for r in expected]
  for row, want in zip(rows, expected):
    assert row == pytest.approx(want, rel=1e-6), row['step']


# Rows logged every 3 steps (8 steps an epoch); the runs below save or stop between log points.
_ROWS = {'num_epochs': 3, 'log_every_steps': 3}


@pytest.fixture(scope='module')
def straight_rows(tmp_path_factory):
  """The metrics rows of an uninterrupted run without extra saves: what every run must log."""
  workdir = tmp_path_factory.mktemp('straight') / 'run'
  code, output = _run(train_cli_args(workdir, **_ROWS))
  assert code == 0, output[-3000:]
  return _rows(workdir)


def test_saves_between_log_points_drop_no_step_metrics(tmp_path, straight_rows):
  saving = tmp_path / 'saving'
  assert _run(train_cli_args(saving, **_ROWS, checkpoint_every_steps=5))[0] == 0
  # The save at step 5 reads steps 4-5 back; the row at step 6 must still cover steps 4-6.
  _assert_same_rows(_rows(saving), straight_rows)


def test_resume_after_sigkill_keeps_one_row_per_step_and_whole_epoch_losses(
    tmp_path, straight_rows
):
  overrides = {**_ROWS, 'checkpoint_every_steps': 5}
  killed = tmp_path / 'killed'
  process = subprocess.Popen(
      train_cli_args(killed, **overrides),
      cwd=REPO,
      stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT,
      text=True,
  )
  metrics = killed / 'metrics.jsonl'
  wait_for(lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 6, process)
  process.send_signal(signal.SIGKILL)  # past step 12: a resume reruns steps after a save
  process.wait()
  assert _run(train_cli_args(killed, **overrides))[0] == 0
  rows = _rows(killed)
  steps = [(r['step'], 'epoch_train_loss' in r) for r in rows]
  assert len(steps) == len(set(steps))  # one row per logged step (and one epoch row)
  _assert_same_rows(rows, straight_rows)  # and epoch losses cover whole epochs


_STOP_SCRIPT = """
import sys
import jax
jax.distributed.initialize(sys.argv[1], 2, int(sys.argv[2]))
from conftest import small_run_config
from cutmix_jax.training import train_loop
config = small_run_config(num_epochs=50, log_every_steps=2)
result = train_loop.train_and_evaluate(config, sys.argv[3])
print('stopped', result.stopped_by, 'step', result.step)
"""


def test_stop_signal_to_one_of_two_processes_stops_both_at_one_step(tmp_path):
  script = tmp_path / 'stop.py'
  script.write_text(_STOP_SCRIPT)
  workdir = tmp_path / 'run'
  processes = start_two_processes(script, workdir, port=free_port())
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
    'mix.cutout.size': ['0', '-4'],
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
    code, output = _run(train_cli_args(workdir, **{key.replace('.', '__'): value}))
    _assert_one_error_line(code, output)
    assert not (workdir / 'checkpoints').exists(), (key, value)


# ---------------------------------------------------------------------------------------------
# Nothing lost: a config that does not match, deleted checkpoints, rows after interruptions
# ---------------------------------------------------------------------------------------------
def _snapshot(workdir):
  """Every file under `workdir` with its size and mtime: what 'nothing changed' compares."""
  found = {}
  for root, _, files in os.walk(workdir):
    for name in files:
      path = os.path.join(root, name)
      found[os.path.relpath(path, workdir)] = (os.path.getsize(path), os.path.getmtime(path))
  return found


@pytest.fixture(scope='module')
def trained_workdir(tmp_path_factory):
  """A finished small run (one epoch), copied fresh for each test that changes it."""
  workdir = tmp_path_factory.mktemp('trained') / 'run'
  code, output = _run(train_cli_args(workdir, num_epochs=1))
  assert code == 0, output
  return workdir


@pytest.fixture
def workdir(trained_workdir, tmp_path):
  copy = tmp_path / 'run'
  shutil.copytree(trained_workdir, copy)
  return copy


def test_another_model_never_touches_the_run(workdir):
  before = _snapshot(workdir)
  code, output = _run(train_cli_args(workdir, num_epochs=1, model='resnet_cifar20'))
  _assert_one_error_line(code, output, "model 'resnet_cifar8' -> 'resnet_cifar20'", 'step 8')
  assert _snapshot(workdir) == before
  code, output = _evaluate(f'--workdir={workdir}', '--config.model=resnet_cifar20')
  _assert_one_error_line(code, output, 'holds a different model', 'not damaged')
  assert _snapshot(workdir) == before  # nothing moved aside, no eval files
  code, output = _run(train_cli_args(workdir, num_epochs=2))  # the run goes on as it was
  assert code == 0 and 'Resuming from the checkpoint at step 8' in output, output[-3000:]


def test_other_settings_are_refused_unless_allowed(workdir):
  before = _snapshot(workdir)
  changed = {'num_epochs': 2, 'mix__method': 'none', 'optimizer__learning_rate': 0.5}
  code, output = _run(train_cli_args(workdir, **changed))
  _assert_one_error_line(
      code, output, "mix.method 'cutmix' -> 'none'", 'optimizer.learning_rate 0.1 -> 0.5',
      '--allow_config_change',
  )  # fmt: skip
  assert _snapshot(workdir) == before
  code, output = _run(train_cli_args(workdir, **changed) + ['--allow_config_change'])
  assert code == 0, output[-3000:]
  assert 'Config changed at step 8 (--allow_config_change)' in output
  history = [json.loads(line) for line in open(workdir / 'config_history.jsonl')]
  assert history[0]['until_step'] == 8 and history[0]['config']['mix']['method'] == 'cutmix'
  assert json.load(open(workdir / 'config.json'))['mix']['method'] == 'none'


def test_cadence_changes_pass_with_a_line(workdir):
  code, output = _run(train_cli_args(workdir, num_epochs=2, log_every_steps=4))
  assert code == 0, output[-3000:]
  assert 'new cadence settings' in output and 'log_every_steps 2 -> 4' in output


def test_deleted_checkpoints_keep_the_old_rows(workdir):
  shutil.rmtree(workdir / 'checkpoints')
  rows = (workdir / 'metrics.jsonl').read_text()
  code, output = _run(train_cli_args(workdir, num_epochs=1))
  assert code == 0, output[-3000:]
  (kept,) = glob.glob(str(workdir / 'metrics.jsonl.old-*'))
  assert open(kept).read() == rows and f'moved to {kept}' in output
  assert _rows(workdir)[0]['step'] == 2  # a new history from step 0


def test_a_broken_metrics_tail_does_not_stop_a_resume(workdir):
  with open(workdir / 'metrics.jsonl', 'ab') as f:
    f.write(b'{"step": 9, "tr\xff\xfe')  # a crash in the middle of a line, bytes cut
  code, output = _run(train_cli_args(workdir, num_epochs=2))
  assert code == 0 and 'Traceback' not in output, output[-3000:]


def test_a_stop_between_log_points_adds_no_row(tmp_path, straight_rows):
  stopped = tmp_path / 'stopped'
  process = subprocess.Popen(train_cli_args(stopped, **_ROWS), cwd=REPO, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
  metrics = stopped / 'metrics.jsonl'
  wait_for(lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 2, process)
  process.send_signal(signal.SIGTERM)
  output = process.communicate(timeout=300)[0]
  assert process.returncode == 0 and 'Stopped by SIGTERM' in output, output[-3000:]
  assert _run(train_cli_args(stopped, **_ROWS))[0] == 0
  _assert_same_rows(_rows(stopped), straight_rows)


# ---------------------------------------------------------------------------------------------
# Faults that must stop cleanly, in one line
# ---------------------------------------------------------------------------------------------
def _refuse_writes(directory):
  """Makes `directory` refuse new files; returns how to undo it. A user's read-only mode does
  it; root ignores modes, so as root the immutable flag (ext4, xfs, btrfs) or, where the
  filesystem has none, a read-only bind mount of the directory onto itself."""
  path = str(directory)
  if os.geteuid() != 0:
    os.chmod(path, 0o555)
    return lambda: os.chmod(path, 0o755)
  if subprocess.run(['chattr', '+i', path], capture_output=True).returncode == 0:
    return lambda: subprocess.run(['chattr', '-i', path], check=True)
  subprocess.run(['mount', '--bind', path, path], check=True)
  subprocess.run(['mount', '-o', 'remount,ro,bind', path], check=True)
  return lambda: subprocess.run(['umount', path], check=True)


def test_a_save_that_fails_stops_in_one_line(tmp_path):
  checkpoints = tmp_path / 'run' / 'checkpoints'
  checkpoints.mkdir(parents=True)
  undo = _refuse_writes(checkpoints)
  try:
    code, output = _run(train_cli_args(tmp_path / 'run', num_epochs=1), timeout=300)
  finally:
    undo()
  _assert_one_error_line(code, output, 'cannot save the checkpoint of step', str(checkpoints))


def test_a_full_disk_stops_in_one_line(tmp_path):
  # The full disk is a 400 KB tmpfs that only the run sees (filling a real disk would fill your
  # own), mounted in a mount namespace of its own: as root, or as a user through a user
  # namespace (`unshare --map-root-user`); it goes away with the run. Where the kernel allows
  # neither, the run's metrics file is a link to /dev/full, whose every write fails with the
  # same ENOSPC: then the line names that file.
  disk = tmp_path / 'disk'
  disk.mkdir()
  namespace = ['unshare', '--mount'] + ([] if os.geteuid() == 0 else ['--map-root-user'])
  mount = f'mount -t tmpfs -o size=400k tmpfs {shlex.quote(str(disk))}'
  if subprocess.run(namespace + ['sh', '-c', mount], capture_output=True).returncode == 0:
    run, needles = namespace + ['sh', '-c', f'{mount} && exec "$@"', 'sh'], ()
  else:
    (disk / 'run').mkdir()
    (disk / 'run' / 'metrics.jsonl').symlink_to('/dev/full')
    run, needles = [], (str(disk / 'run' / 'metrics.jsonl'),)
  code, output = _run(run + train_cli_args(disk / 'run', num_epochs=1), timeout=300)
  _assert_one_error_line(code, output, 'No space left on device', *needles)


def test_only_orbax_threads_fail_quietly(tmp_path):
  """The commands hush the tracebacks of orbax's worker threads, never those of other threads."""
  worker = tmp_path / 'orbax' / 'worker.py'
  worker.parent.mkdir()
  worker.write_text('def save():\n  raise OSError("from an orbax thread")\n')
  script = (
      'import sys, threading\n'
      f'sys.path.insert(0, {str(worker.parent)!r})\n'
      'import worker\n'
      'from cutmix_jax.commands import command_line\n'
      'command_line.quiet_background_errors()\n'
      'def other():\n  raise ValueError("from another thread")\n'
      'for target in (worker.save, other):\n'
      '  thread = threading.Thread(target=target)\n  thread.start()\n  thread.join()\n'
  )
  code, output = _run([sys.executable, '-c', script])
  assert code == 0, output
  assert 'ValueError: from another thread' in output, output
  assert 'from an orbax thread' not in output, output


def test_evaluate_on_a_damaged_newest_checkpoint_is_quiet(workdir):
  _damage(workdir / 'checkpoints' / '8')
  code, output = _evaluate(f'--workdir={workdir}', *_ACCURACY_ONLY)
  assert code == 1, output[-3000:]  # the only checkpoint is damaged: nothing restores
  assert 'Traceback' not in output and 'Event loop is closed' not in output, output[-3000:]
  assert 'pybind11' not in output and 'moved to' in output


@pytest.mark.parametrize(
    'text, needle',
    [('def get_config(:\n', 'syntax error at line 1'), ('x = 1\n', 'has no get_config() function')],
)
def test_a_broken_config_file_is_one_line(tmp_path, text, needle):
  path = tmp_path / 'config.py'
  path.write_text(text)
  args = [sys.executable, os.path.join(REPO, 'train.py'), f'--config={path}',
          f'--workdir={tmp_path / "run"}']  # fmt: skip
  _assert_one_error_line(*_run(args), needle)


@pytest.mark.parametrize('signum, code', [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_start_up_says_so(tmp_path, signum, code):
  process = subprocess.Popen(train_cli_args(tmp_path / 'run'), cwd=REPO, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
  wait_for(lambda: (tmp_path / 'run').exists(), process)  # the workdir check: start-up
  process.send_signal(signum)
  output = process.communicate(timeout=300)[0]
  # The workdir exists seconds before training starts (data, model and compile come after it).
  assert 'Stopped by' not in output, 'the signal came after start-up: ' + output[-3000:]
  assert process.returncode == code and 'Traceback' not in output, output[-3000:]
  assert output.strip().splitlines()[-1].startswith('error: stopped by')


def test_ood_sets_are_checked_before_the_first_measure(workdir, tmp_path):
  plain = tmp_path / 'plain'
  for name in ('a', 'b'):
    (plain / name).mkdir(parents=True)
    for i in range(3):
      Image.new('RGB', (20, 20), (40 * i, 0, 0)).save(plain / name / f'{i}.png')
  code, output = _evaluate(f'--workdir={workdir}', '--nofgsm', '--nocorruptions', '--noocclusion',
                           f'--ood=folder:{plain}')  # fmt: skip
  assert code == 0, output[-3000:]
  report = json.load(open(workdir / 'eval' / 'report.json'))
  assert report['ood'][f'folder:{plain}']['count'] == 6  # a plain folder of class folders
  code, output = _evaluate(f'--workdir={workdir}', f'--ood=folder:{tmp_path / "missing"}')
  _assert_one_error_line(code, output, 'missing')
  assert 'occlusion' not in output  # no measure ran before the bad set stopped it


@pytest.mark.parametrize(
    'source, pipeline', [('tfds:cifar10', ''), ('folder:{large}', 'tf')]
)  # a folder of large images streams through Grain, with no TensorFlow, unless pipeline=tf
def test_a_missing_tfds_extra_is_one_line_with_the_install_command(tmp_path, source, pipeline):
  large = tmp_path / 'large'
  for name in ('a', 'b'):
    (large / 'train' / name).mkdir(parents=True)
    for i in range(4):
      Image.new('RGB', (80, 80), (60 * i, 0, 0)).save(large / 'train' / name / f'{i}.png')
  workdir = tmp_path / 'run'
  args = train_cli_args(
      workdir,
      data__source=source.format(large=large),
      data__holdout_per_class=1,
      data__pipeline=pipeline,
  )
  block = "import sys; sys.modules['tensorflow'] = sys.modules['tensorflow_datasets'] = None; "
  run = f"import runpy; sys.argv = {args[1:]!r}; runpy.run_path(sys.argv[0], run_name='__main__')"
  code, output = _run([sys.executable, '-c', block + run])
  _assert_one_error_line(code, output, 'needs the tfds extra', "pip install 'cutmix_jax[tfds]'")
  assert not workdir.exists()
