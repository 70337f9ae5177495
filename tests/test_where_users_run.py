"""Nothing lost where users really run: a stop during a resume, restarts and the best checkpoint,
bit rot, a refused config change, containers (PID 1), races for the lock; and the mistakes that
used to end in a traceback or in silence, each one line now."""

import json
import os
import shlex
import shutil
import subprocess
import sys
import time

from conftest import REPO
from conftest import free_port
from conftest import train_cli_args
from conftest import wait_for
import jax.numpy as jnp
import numpy as np
import pytest

from cutmix_jax.commands import evaluate as evaluate_command
from cutmix_jax.config import checks
from cutmix_jax.config import files
from cutmix_jax.config import history
from cutmix_jax.training import checkpointing
from cutmix_jax.training import metric_log
from cutmix_jax.training import run_config
from cutmix_jax.training.checkpointing import Checkpointer
from cutmix_jax.training.metric_log import MetricLog


def _rows(workdir):
  return metric_log.read_rows(str(workdir))


def test_a_stop_while_metrics_are_cut_at_resume_loses_no_row(tmp_path, monkeypatch):
  log = MetricLog(str(tmp_path))
  for step in range(1, 1001):
    log.write(step, step / 100, {'train_loss': 1.0 / step})
  log.close()

  class Stopped(BaseException):  # as a signal or kill -9 would end the write
    pass

  calls = []

  def dumps_then_stop(value, *args, **kwargs):
    calls.append(None)
    if len(calls) > 10:
      raise Stopped
    return json.JSONEncoder().encode(value)

  log = MetricLog(str(tmp_path))
  monkeypatch.setattr(metric_log.json, 'dumps', dumps_then_stop)
  with pytest.raises(Stopped):
    log.cut_after(500)
  monkeypatch.undo()
  assert len(_rows(tmp_path)) == 1000  # the file is replaced whole, or not at all
  assert not [p for p in os.listdir(tmp_path) if p.endswith('.tmp')]
  log.cut_after(500)
  log.close()
  assert [row['step'] for row in _rows(tmp_path)] == list(range(1, 501))


def _state(value):
  return {'w': jnp.full((64,), value, jnp.float32), 'b': jnp.arange(8, dtype=jnp.float32) + value}


def test_the_best_checkpoint_survives_any_number_of_restarts(tmp_path):
  directory = str(tmp_path / 'checkpoints')
  errors = {1: 10.0, 2: 50.0, 3: None, 4: 60.0, 5: 70.0}
  for step, error in errors.items():  # a new process (a restart) for every save
    checkpointer = Checkpointer(directory, keep=1)
    metrics = None if error is None else {checkpointing.BEST_METRIC: error}
    checkpointer.save(step, _state(step), {'step': step}, metrics)
    checkpointer.close()
  assert checkpointing.saved_steps(directory) == [1, 5]  # the best, and the newest


def _flip_one_bit(step_dir):
  """Flips one bit in the middle of the largest file of a step (what bit rot does)."""
  files_ = [os.path.join(d, n) for d, _, names in os.walk(step_dir) for n in names]
  largest = max((f for f in files_ if not f.endswith(checkpointing.CHECKSUMS)), key=os.path.getsize)
  with open(largest, 'r+b') as f:
    f.seek(os.path.getsize(largest) // 2)
    byte = f.read(1)
    f.seek(-1, os.SEEK_CUR)
    f.write(bytes([byte[0] ^ 0x10]))
  return largest


def test_a_flipped_bit_is_found_and_the_newest_intact_checkpoint_restores(tmp_path):
  directory = str(tmp_path / 'checkpoints')
  checkpointer = Checkpointer(directory, keep=3)
  for step in (1, 2):
    checkpointer.save(step, _state(step), {'step': step})
  flipped = _flip_one_bit(os.path.join(directory, '2'))
  said = []
  step, state, progress = checkpointer.restore_newest(_state(0), said.append)
  assert step == 1 and progress == {'step': 1}
  np.testing.assert_array_equal(state['w'], _state(1)['w'])
  assert len(said) == 1 and said[0].startswith(f'checkpoint step 2 in {directory} does not restore')
  assert (
      'differs from its checksum' in said[0]
      and os.path.relpath(flipped, f'{directory}/2') in said[0]
  )
  assert checkpointing.saved_steps(directory) == [1] and os.path.isdir(f'{directory}/corrupt-2')
  checkpointer.close()


def test_an_empty_or_cut_short_config_json_is_one_line(tmp_path):
  for text, what in (('', 'is empty'), ('{"model": "resnet', 'is not a config')):
    (tmp_path / 'config.json').write_text(text)
    with pytest.raises(history.RunConfigError, match=rf'config.json {what}'):
      history.read_run_config(str(tmp_path))


def test_a_get_config_that_returns_nothing_is_one_line(tmp_path):
  path = tmp_path / 'config.py'
  path.write_text('def get_config():\n  config = {}\n')
  with pytest.raises(files.NoConfigFunctionError, match=r'returned NoneType, not an ml_collec'):
    files.load(str(path))


@pytest.mark.parametrize(
    'key, value, message',
    [
        ('seed', 2**70, r'^config.seed must be an integer in \[0, 2\*\*32\)'),
        (
            'seed',
            2**32,
            r'^config.seed must be an integer in \[0, 2\*\*32\)',
        ),  # key(2**32) = key(0)
        ('optimizer.momentum', 1.5, r'^config.optimizer: momentum=1.5 must be in \[0, 1\)'),
        ('optimizer.weight_decay', -1.0, r'^config.optimizer: weight_decay=-1.0 must be >= 0'),
    ],
)
def test_values_that_train_wrongly_are_refused(small_config, key, value, message):
  config = small_config(**{key: value})
  with pytest.raises(checks.ConfigError, match=message):
    run_config.check_config(config)


def test_evaluate_takes_a_workdir_whose_name_holds_a_comma(tmp_path):
  comma = tmp_path / 'lr0.1,wd5e-4'
  comma.mkdir()
  split = evaluate_command._split  # pylint: disable=protected-access
  assert split(str(comma)) == [str(comma)]
  assert split(f'{tmp_path}/a,{tmp_path}/b') == [f'{tmp_path}/a', f'{tmp_path}/b']


# ---------------------------------------------------------------------------------------------
# The command line, as users run it (the slow tier)
# ---------------------------------------------------------------------------------------------
def _run(args, timeout=600, env=None):
  out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, **(env or {})})  # fmt: skip
  return out.returncode, out.stdout + out.stderr


def _one_error_line(code, output, *needles, exit_code=1):
  assert code == exit_code, output[-3000:]
  assert 'Traceback' not in output, output[-3000:]
  errors = [line for line in output.splitlines() if line.startswith('error: ')]
  assert len(errors) == 1, output[-3000:]
  for needle in needles:
    assert needle in errors[0], errors[0]
  return errors[0]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """A finished small run (one epoch of 8 steps on 8 devices)."""
  workdir = tmp_path_factory.mktemp('trained') / 'run'
  code, output = _run(train_cli_args(workdir, num_epochs=1))
  assert code == 0, output
  return workdir


@pytest.fixture
def run_copy(trained, tmp_path):
  copy = tmp_path / 'run'
  shutil.copytree(trained, copy)
  return copy


@pytest.mark.slow
def test_a_kill_while_a_resume_cuts_the_metrics_loses_no_row(run_copy):
  # A long history (300,000 rows up to the checkpoint, as a long run has) and rows past it,
  # which a resume cuts by writing the history again. kill -9 at the first sign of the cut (a
  # temporary file, or the file changing size): every row up to the checkpoint stays.
  metrics = run_copy / 'metrics.jsonl'
  history_rows = [json.dumps({'step': 1 + i % 8, 'epoch': 0.5, 'train_loss': 1.0})
                  for i in range(300_000)]  # fmt: skip
  rows = history_rows + metrics.read_text().splitlines()
  extra = [json.dumps({'step': 100 + i, 'epoch': 9.0, 'train_loss': 1.0}) for i in range(10)]
  metrics.write_text('\n'.join(rows + extra) + '\n')
  size = metrics.stat().st_size
  process = subprocess.Popen(train_cli_args(run_copy, num_epochs=2), cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
  cutting = lambda: any(p.endswith('.tmp') for p in os.listdir(run_copy)) or (
      metrics.exists() and metrics.stat().st_size != size
  )
  try:
    wait_for(cutting, process)
  finally:
    process.kill()
    process.wait()
  assert len(_rows(run_copy)) in (len(rows) + len(extra), len(rows))  # before or after the cut
  code, output = _run(train_cli_args(run_copy, num_epochs=2))
  assert code == 0, output[-3000:]
  steps = [row['step'] for row in _rows(run_copy)]
  assert steps[: len(rows)] == [json.loads(row)['step'] for row in rows] and max(steps) == 16


@pytest.mark.slow
def test_a_refused_model_change_leaves_the_workdir_as_it_was(run_copy):
  before = (run_copy / 'config.json').read_text()
  code, output = _run(train_cli_args(run_copy, model='resnet_cifar20') + ['--allow_config_change'])
  _one_error_line(code, output, 'holds a different model')
  assert (run_copy / 'config.json').read_text() == before
  assert not (run_copy / 'config_history.jsonl').exists()
  code, output = _run(train_cli_args(run_copy, num_epochs=2))  # the original command resumes
  assert code == 0 and 'Resuming from the checkpoint at step 8' in output, output[-3000:]


@pytest.mark.slow
def test_a_resume_on_fewer_devices_says_what_changes(run_copy):
  code, output = _run(train_cli_args(run_copy, num_epochs=2),
                      env={'XLA_FLAGS': '--xla_force_host_platform_device_count=4'})  # fmt: skip
  assert code == 0, output[-3000:]
  said = [line for line in output.splitlines() if 'trained on 8 devices and resumes on 4' in line]
  assert len(said) == 1 and "each device's random draws" in said[0]  # whole-batch BatchNorm


@pytest.mark.slow
@pytest.mark.parametrize('text', ['', '{"model": "resnet_cif'], ids=['empty', 'cut-short'])
def test_a_damaged_config_json_is_one_line_in_both_commands(run_copy, text):
  (run_copy / 'config.json').write_text(text)
  _one_error_line(*_run(train_cli_args(run_copy, num_epochs=2)), 'config.json is')
  evaluate = [sys.executable, 'evaluate.py', f'--workdir={run_copy}', '--nofgsm']
  _one_error_line(*_run(evaluate), 'config.json is')


@pytest.mark.slow
def test_stray_arguments_and_bad_values_are_one_line(tmp_path):
  workdir = tmp_path / 'run'
  _one_error_line(*_run(train_cli_args(workdir) + ['extra']), "unexpected argument 'extra'",
                  exit_code=2)  # fmt: skip
  evaluate = [sys.executable, 'evaluate.py', f'--workdir={workdir}', 'extra']
  _one_error_line(*_run(evaluate), "unexpected argument 'extra'", exit_code=2)
  for flag, needle in (
      ('--config.seed=1180591620717411303424', 'config.seed must be an integer in [0, 2**32)'),
      ('--config.optimizer.momentum=1.5', 'momentum=1.5 must be in [0, 1)'),
      ('--config.optimizer.weight_decay=-1', 'weight_decay=-1'),
  ):
    _one_error_line(*_run(train_cli_args(workdir) + [flag]), needle)
  config = tmp_path / 'none.py'
  config.write_text('def get_config():\n  pass\n')
  args = [sys.executable, 'train.py', f'--config={config}', f'--workdir={workdir}']
  _one_error_line(*_run(args), 'returned NoneType')
  assert not workdir.exists()


@pytest.mark.slow
def test_a_run_as_pid_1_resumes_after_a_kill(tmp_path):
  # Docker and Kubernetes start a training as PID 1 of its own PID namespace. Killed (-9) and
  # started again, it must take its own lock back (the old lock named pid 1: itself).
  as_pid_1 = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child']
  workdir = tmp_path / 'run'
  slow = {'data.synthetic_num_train': 2048, 'num_epochs': 3}
  process = subprocess.Popen(as_pid_1 + train_cli_args(workdir, **slow), cwd=REPO, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
  wait_for(lambda: (workdir / 'checkpoints').exists() or (workdir / 'metrics.jsonl').exists(),
           process)  # fmt: skip
  assert json.loads((workdir / 'run.lock').read_text())['pid'] == 1
  process.kill()  # kill -9 of unshare: --kill-child kills the namespace's PID 1 (-9) with it
  process.wait()
  code, output = _run(as_pid_1 + train_cli_args(workdir, num_train_steps=2, **slow))
  assert code == 0, output[-3000:]
  assert 'in use' not in output


@pytest.mark.slow
def test_unreadable_images_in_a_streamed_folder_are_named_in_one_line(tmp_path):
  from PIL import Image

  root = tmp_path / 'images'
  for name in ('a', 'b'):
    (root / 'train' / name).mkdir(parents=True)
    for i in range(6):
      Image.new('RGB', (96, 96), (40 * i, 90, 0)).save(root / 'train' / name / f'{i}.jpg')
  whole = (root / 'train' / 'a' / '3.jpg').read_bytes()
  (root / 'train' / 'a' / '3.jpg').write_bytes(whole[: len(whole) // 3])  # cut short
  overrides = dict(data__source=f'folder:{root}', data__holdout_per_class=1, data__image_size=64,
                   batch_size=8, eval_batch_size=8, num_epochs=1)  # fmt: skip
  line = _one_error_line(*_run(train_cli_args(tmp_path / 'run', **overrides)), '3.jpg')
  assert str(root / 'train' / 'a' / '3.jpg') in line
  (root / 'train' / 'a' / '3.jpg').write_bytes(whole)
  Image.new('L', (20_000, 20_000)).save(root / 'train' / 'b' / '5.png')  # 400 Mpx: a bomb
  line = _one_error_line(*_run(train_cli_args(tmp_path / 'run2', **overrides)), '5.png')
  assert 'decompression bomb' in line.lower()


# gcp-storage-emulator, with the one header it leaves out of a download and that TensorStore
# (orbax's arrays) reads: the object's generation (without it, every write after a read fails).
_EMULATOR = """
import sys
from gcp_storage_emulator.handlers import objects
plain_download = objects.download

def download(request, response, storage, *args, **kwargs):
  plain_download(request, response, storage, *args, **kwargs)
  try:
    found = storage.get_file_obj(request.params['bucket_name'], request.params['object_id'])
  except Exception:  # not found: the plain handler said so
    return
  response['x-goog-generation'] = str(found['generation'])

objects.download = download
from gcp_storage_emulator import __main__ as emulator
sys.argv = ['gcp-storage-emulator', *sys.argv[1:]]
emulator.main()
"""


@pytest.fixture(scope='module')
def bucket(tmp_path_factory):
  """A Cloud Storage server on this machine (gcp-storage-emulator, in memory, bucket 'bucket'):
  a non-local file system that needs no network. Returns the environment that points gcsfs
  (through etils.epath, with EPATH_USE_TF=false) and TensorStore (orbax's arrays) at it."""
  port = free_port()
  log = tmp_path_factory.mktemp('emulator') / 'log'  # a file: a full pipe would stop the server
  with open(log, 'w', encoding='utf-8') as out:
    server = subprocess.Popen(
        [sys.executable, '-c', _EMULATOR, 'start', '--host=127.0.0.1', f'--port={port}',
         '--in-memory', '--default-bucket=bucket'],
        stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
  url = f'http://127.0.0.1:{port}'
  env = {'EPATH_USE_TF': 'false', 'STORAGE_EMULATOR_HOST': url, 'TENSORSTORE_GCS_HTTP_URL': url}
  deadline = time.time() + 60
  while 'All services started' not in log.read_text():
    assert time.time() < deadline and server.poll() is None, 'the storage emulator did not start'
    time.sleep(0.2)
  yield env
  server.kill()
  server.wait()


def _bucket_files(env, root):
  """Every object below `root` in the emulated bucket, as relative paths (read in a process
  of its own, with the bucket's environment)."""
  script = (
      'import sys\nfrom cutmix_jax.config import storage\n'
      'for name, _ in storage.files_below(sys.argv[1]):\n  print(name)\n'
  )
  code, output = _run([sys.executable, '-c', script, root], env=env)
  assert code == 0, output[-3000:]
  return {line for line in output.splitlines() if not line.startswith(('WARNING', 'I0', 'W0'))}


@pytest.mark.slow
def test_a_bucket_workdir_keeps_every_file_in_the_bucket_and_resumes(bucket, tmp_path):
  workdir = 'gs://bucket/run'
  cwd_before = set(os.listdir(REPO))
  code, output = _run(train_cli_args(workdir, num_epochs=1), env=bucket)
  assert code == 0, output[-3000:]
  assert set(os.listdir(REPO)) == cwd_before  # no local folder named 'gs:'
  stored = _bucket_files(bucket, workdir)
  assert {'config.json', 'metrics.jsonl', 'checkpoints/8/checksums.json'} <= stored, stored
  assert any(name.startswith('events.out.tfevents') for name in stored)
  assert 'run.lock' not in stored  # released
  # A lock left by a run killed (-9) on this host is taken back at once (its process is gone).
  holder = _hold_bucket_lock(workdir, bucket)
  holder.kill()
  holder.wait()
  code, output = _run(train_cli_args(workdir, num_epochs=2), env=bucket)
  assert code == 0, output[-3000:]
  assert 'Resuming from the checkpoint at step 8' in output
  assert 'Taking over the lock of a run that ended' in output and 'no longer exists' in output
  rows = [json.loads(line) for line in _read_bucket(bucket, f'{workdir}/metrics.jsonl')]
  assert sorted({row['step'] for row in rows if 'eval_top1_error' in row}) == [8, 16]
  code, output = _run([sys.executable, 'evaluate.py', f'--workdir={workdir}', '--nofgsm',
                       '--nocorruptions', '--noocclusion', '--ood='], env=bucket)  # fmt: skip
  assert code == 0, output[-3000:]
  assert 'eval/report.json' in _bucket_files(bucket, workdir)
  assert set(os.listdir(REPO)) == cwd_before


def _hold_bucket_lock(workdir, env):
  """A process that holds the lock of a bucket workdir (once it says so)."""
  script = (
      'import sys, time\nfrom cutmix_jax.training.workdir_lock import WorkdirLock\n'
      'with WorkdirLock(sys.argv[1], print):\n  print("held", flush=True)\n  time.sleep(600)\n'
  )
  holder = subprocess.Popen([sys.executable, '-c', script, workdir], cwd=REPO, text=True,
                            env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)  # fmt: skip
  assert holder.stdout.readline().strip() == 'held'
  return holder


def _read_bucket(env, location):
  script = 'import sys\nfrom etils import epath\nprint(epath.Path(sys.argv[1]).read_text(), end="")'
  code, output = _run([sys.executable, '-c', script, location], env=env)
  assert code == 0, output[-3000:]
  return [line for line in output.splitlines() if line.startswith('{')]


@pytest.mark.slow
def test_a_resume_on_a_full_disk_names_the_file_and_leaves_no_lock(trained, tmp_path):
  # The workdir is copied into a tmpfs of its own (a mount namespace, as root or through a
  # user namespace), the rest of which is filled; then the run resumes there.
  disk = tmp_path / 'disk'
  disk.mkdir()
  namespace = ['unshare', '--mount'] + ([] if os.geteuid() == 0 else ['--map-root-user'])
  train = ' '.join(shlex.quote(arg) for arg in train_cli_args(disk / 'run', num_epochs=2))
  script = (
      f'mount -t tmpfs -o size=4m tmpfs {disk} && cp -r {trained} {disk}/run && '
      f'(dd if=/dev/zero of={disk}/filler bs=64k 2>/dev/null; true) && '
      f'({train}; echo "exit $?") 2>&1; echo FILES $(ls -A {disk}/run)'
  )
  code, output = _run(namespace + ['sh', '-c', script])
  assert code == 0, output[-3000:]
  assert 'exit 1' in output, output[-3000:]
  line = _one_error_line(1, output, 'No space left on device')
  assert str(disk / 'run') in line, line  # the file that could not be written is named
  listing = output.strip().splitlines()[-1].split()[1:]
  assert 'run.lock' not in listing and not [f for f in listing if f.endswith('.tmp')], listing
