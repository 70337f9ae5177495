"""Training: end to end, 1 vs 8 devices, bitwise resume, signals, NaN stop, processes, errors."""

import functools
import json
import os
import signal
import subprocess
import sys

from conftest import REPO
from conftest import free_port
from conftest import start_two_processes
from conftest import train_cli_args
from conftest import wait_for
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cutmix_jax.models import cpu_convolutions
from cutmix_jax.ops import mix_config
from cutmix_jax.training import devices
from cutmix_jax.training import optim
from cutmix_jax.training import run_builder
from cutmix_jax.training import train_loop
from cutmix_jax.training import train_state
from cutmix_jax.training import train_step as steps
from cutmix_jax.training.checkpointing import Checkpointer


def _tree_bytes(tree) -> bytes:
  return b''.join(np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(tree))


def _restore_final(workdir, config):
  """The state of the latest checkpoint in `workdir`, restored into the shape of `config`'s."""
  template = run_builder.build_run(config).state_template()
  checkpointer = Checkpointer(os.path.join(workdir, 'checkpoints'), keep=1)
  step = checkpointer.latest_step()
  state, progress = checkpointer.restore(step, template)
  checkpointer.close()
  return step, state, progress


@pytest.mark.slow
def test_end_to_end_on_eight_devices_loss_falls_and_writes_outputs(small_config, tmp_path):
  assert jax.device_count() == 8
  config = small_config(num_epochs=3, **{'mix.prob': 1.0, 'optimizer.decay_epochs': (2, 2.5)})
  result = train_loop.train_and_evaluate(config, str(tmp_path))
  records = [json.loads(line) for line in open(tmp_path / 'metrics.jsonl')]
  train = [r for r in records if 'train_loss' in r]
  evals = [r for r in records if 'eval_top1_error' in r]
  assert [r['step'] for r in train] == list(range(2, 25, 2))
  assert len(evals) == 3 and all(
      {'epoch', 'eval_top5_error', 'best_eval_top1_error'} <= set(r) for r in evals
  )
  assert (
      np.mean([r['train_loss'] for r in train[-3:]])
      < np.mean([r['train_loss'] for r in train[:3]]) - 0.1
  )
  assert result.progress.best_eval_top1_error == min(r['eval_top1_error'] for r in evals)
  assert result.step == 24 and result.stopped_by is None
  assert json.load(open(tmp_path / 'config.json'))['mix']['method'] == 'cutmix'
  assert any(name.startswith('events.out.tfevents') for name in os.listdir(tmp_path))
  assert Checkpointer(str(tmp_path / 'checkpoints'), keep=2).all_steps()[-1] == 24


@pytest.fixture
def backend_compiles():
  """A list that grows by one entry per XLA backend compile while the test runs."""
  compiles = []

  def listen(name, *_, **__):
    if name == '/jax/core/compile/backend_compile_duration':
      compiles.append(name)

  jax.monitoring.register_event_duration_secs_listener(listen)
  yield compiles
  jax.monitoring.unregister_event_duration_listener(listen)


class _ManyShapesNet(nn.Module):
  """Convolutions of widths found nowhere else in the tests: parameter shapes of their own."""

  @nn.compact
  def __call__(self, x, train=False):
    for width in (3, 5, 7, 11, 13):
      x = nn.relu(nn.Conv(width, (3, 3))(x))
    return nn.Dense(17)(x.mean(axis=(1, 2)))


def test_a_new_train_state_is_one_compiled_program(backend_compiles):
  # Made op by op, the optimizer's zeros took a compile per parameter shape (12 more here).
  tx = optim.make_optimizer(optim.OptimizerConfig(), lambda step: 0.1)
  state = train_state.create_train_state(0, _ManyShapesNet(), (6, 6, 3), tx)
  assert len(backend_compiles) == 1
  assert len({leaf.shape for leaf in jax.tree.leaves(state.params)}) == 12
  momentum = [leaf for leaf in jax.tree.leaves(state.opt_state) if leaf.ndim]
  assert [m.shape for m in momentum] == [p.shape for p in jax.tree.leaves(state.params)]
  assert all(not np.any(m) for m in momentum) and int(state.step) == 0


@pytest.mark.slow
def test_feature_cutmix_trains_and_nothing_recompiles_after_the_first_epoch(
    small_config, tmp_path, monkeypatch, backend_compiles
):
  compiles = backend_compiles
  seen_at_epoch_end = []
  end_epoch = train_loop.Trainer.end_epoch

  def counting_end_epoch(self, *args, **kwargs):
    scalars = end_epoch(self, *args, **kwargs)
    seen_at_epoch_end.append(len(compiles))
    return scalars

  monkeypatch.setattr(train_loop.Trainer, 'end_epoch', counting_end_epoch)
  config = small_config(
      num_epochs=3,
      **{
          'mix.level': 'feature',
          'mix.partners': 'device',
          'mix.prob': 1.0,
          'mix.off_after_epoch': 2,  # epoch 3 trains unmixed, with the same program
      },
  )
  result = train_loop.train_and_evaluate(config, str(tmp_path))
  assert np.isfinite(result.last_epoch['epoch_train_loss'])
  # The logged probability that a step mixed: 1 for the 16 steps of epochs 1-2, then 0.
  rows = [json.loads(line) for line in open(tmp_path / 'metrics.jsonl')]
  probs = {row['step']: row['mix_prob'] for row in rows if 'mix_prob' in row}
  assert probs == {step: 1.0 if step <= 16 else 0.0 for step in range(2, 25, 2)}
  # Epochs 2 and 3 run the train and eval programs compiled in epoch 1: a random feature stage
  # per step, switching mixing off, metrics, checkpoints and evaluation add no compilation.
  assert (
      seen_at_epoch_end[0] > 0
      and seen_at_epoch_end[1] == seen_at_epoch_end[2] == seen_at_epoch_end[0]
  )


class _NoBatchNormNet(nn.Module):
  """A small net without BatchNorm, so the 1- and 8-device updates must agree exactly; a plain
  Flax classifier, with no feature-mixing argument."""

  num_classes: int = 5

  @nn.compact
  def __call__(self, x, train=False):
    x = nn.relu(nn.Conv(8, (3, 3))(x))
    return nn.Dense(self.num_classes, name='head')(x.mean(axis=(1, 2)))


def test_same_global_batch_same_update_on_one_and_eight_devices(small_config):
  config = small_config(**{'mix.method': 'none'})
  model = _NoBatchNormNet()
  opt = optim.OptimizerConfig(**config.optimizer)
  tx = optim.make_optimizer(opt, optim.learning_rate_schedule(opt, config.batch_size, 10))
  state = train_state.create_train_state(0, model, (8, 8, 3), tx)
  settings = steps.StepSettings(seed=0, num_classes=5, mix=mix_config.MixConfig(method='none'))
  step = functools.partial(
      steps.train_step,
      settings=settings,
      preprocess=lambda _, x: x.astype(jnp.float32) / 255,
      learning_rate_fn=optim.learning_rate_schedule(opt, config.batch_size, 10),
  )
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (16, 8, 8, 3), dtype=np.uint8)
  labels = rng.integers(0, 5, (16,)).astype(np.int32)
  results = []
  for count in (1, 8):
    where = devices.MeshPlacement(
        jax.make_mesh((count,), (devices.AXIS,), devices=jax.devices()[:count])
    )
    batch = {'image': images, 'label': labels}
    compiled = where.compile(step, (devices.STATE, devices.BATCH))
    new_state, metrics = compiled(where.put_state(state), where.put_batch(batch))
    results.append((where.first(new_state).params, float(where.first(metrics)['loss'])))
  (params_1, loss_1), (params_8, loss_8) = results
  # Only the order of float32 summation differs (one mean of 16 vs a mean of 8 means of 2).
  jax.tree.map(
      lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), params_1, params_8
  )
  assert loss_1 == pytest.approx(loss_8, rel=1e-6)
  assert not np.allclose(params_1['head']['kernel'], state.params['head']['kernel'])


@pytest.mark.slow  # three trainings (a minute); test_faults resumes through train.py as well
def test_a_resumed_run_ends_bitwise_as_an_uninterrupted_one(small_config, tmp_path):
  # The quick tier's train and resume, in process: 2 steps, then on to 4, against 4 at once.
  straight = train_loop.train_and_evaluate(small_config(num_train_steps=4), str(tmp_path / 'a'))
  first = train_loop.train_and_evaluate(small_config(num_train_steps=2), str(tmp_path / 'b'))
  assert first.step == 2
  resumed = train_loop.train_and_evaluate(small_config(num_train_steps=4), str(tmp_path / 'b'))
  assert resumed.step == 4
  assert _tree_bytes(resumed.state.params) == _tree_bytes(straight.state.params)
  assert _tree_bytes(resumed.state.opt_state) == _tree_bytes(straight.state.opt_state)
  assert _tree_bytes(resumed.state.params) != _tree_bytes(first.state.params)


def test_checkpoints_hold_global_arrays_and_restore_them_placed_either_way(tmp_path):
  # The mesh saves its global arrays with their sharding and restores them placed, without a
  # host copy; pmap saves host arrays; each restores what the other wrote, bit for bit.
  state = {'kernel': np.arange(24, dtype=np.float32).reshape(4, 6), 'step': np.array(7, np.int32)}
  mesh, pmap = devices.placement('mesh'), devices.placement('pmap')
  placed = mesh.put_state(state)
  for name, placement in (('mesh', mesh), ('pmap', pmap)):
    checkpointer = Checkpointer(str(tmp_path / name), keep=1)
    checkpointer.save(1, placement.saved_state(placement.put_state(state)), {'epoch': 0})
    checkpointer.close()
  sharding = placed['kernel'].sharding
  for writer in ('mesh', 'pmap'):
    checkpointer = Checkpointer(str(tmp_path / writer), keep=1)
    on_mesh, _ = checkpointer.restore(1, mesh.state_template(state))
    assert all(leaf.sharding == sharding for leaf in jax.tree.leaves(on_mesh)), writer
    assert _tree_bytes(on_mesh) == _tree_bytes(state)
    assert mesh.put_state(on_mesh)['kernel'] is on_mesh['kernel']  # placed already: kept
    on_host, _ = checkpointer.restore(1, pmap.state_template(state))
    assert all(isinstance(leaf, np.ndarray) for leaf in jax.tree.leaves(on_host)), writer
    assert _tree_bytes(on_host) == _tree_bytes(state)
    checkpointer.close()


@pytest.mark.slow  # two trainings; the quick tier trains on the mesh (the default) already
# XLA's default convolutions, and Eigen's (an x86 CPU without AVX-512's), on any CPU: pmap takes
# the compile options through a compile of its own (devices._compiled_with).
@pytest.mark.parametrize(
    'options',
    [{}, {cpu_convolutions.OPTION: cpu_convolutions.WITHOUT_CONVOLUTIONS}],
    ids=['default', 'eigen'],
)
def test_mesh_and_pmap_train_the_same_run_bit_for_bit(small_config, tmp_path, monkeypatch, options):
  monkeypatch.setattr(cpu_convolutions, 'compiler_options', lambda: options)
  runs = {
      name: train_loop.train_and_evaluate(
          small_config(num_train_steps=4, parallelism=name), str(tmp_path / name)
      )
      for name in devices.PARALLELISMS
  }
  mesh, pmap = runs['mesh'], runs['pmap']
  # The whole state is the same bit for bit: parameters, optimizer state and BatchNorm's running
  # statistics (whose batch statistics pass an optimization barrier, so that XLA cannot fold the
  # momentum update differently in the two programs: `models/batch_norm.py`).
  for part in ('params', 'opt_state', 'batch_stats'):
    assert _tree_bytes(getattr(mesh.state, part)) == _tree_bytes(getattr(pmap.state, part)), part
  # And so are the evaluations (the eval body takes the state through an optimization barrier:
  # `eval_driver.Evaluator`; without it a logit moved by 6e-8 and the eval loss with it).
  assert mesh.last_epoch.keys() == pmap.last_epoch.keys() >= {'eval_loss', 'eval_top1_error'}
  assert mesh.last_epoch == pmap.last_epoch
  # A checkpoint of the pmap trainer (host arrays, as every earlier version wrote them) resumes
  # on the mesh, where the run goes on as it would have.
  workdir = str(tmp_path / 'pmap_then_mesh')
  train_loop.train_and_evaluate(small_config(num_train_steps=2, parallelism='pmap'), workdir)
  resumed = train_loop.train_and_evaluate(small_config(num_train_steps=4), workdir)
  assert resumed.step == 4
  assert _tree_bytes(resumed.state.params) == _tree_bytes(mesh.state.params)


_WARNINGS_AS_ERRORS = """
import runpy, sys, warnings
ours = r'(cutmix_jax|jax|flax)(\\.|$)'
warnings.filterwarnings('error', category=DeprecationWarning, module=ours)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
"""


@pytest.mark.slow
def test_the_default_path_calls_no_deprecated_api(tmp_path):
  # train.py on the mesh (the default) with every DeprecationWarning that JAX, Flax or this
  # package raises (a deprecated call is attributed to its caller) turned into an error.
  args = train_cli_args(tmp_path / 'run', num_train_steps=4, log_every_steps=2)
  command = [args[0], '-c', _WARNINGS_AS_ERRORS] + args[1:]
  out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
  assert 'best eval top-1 error' in out.stdout
  config = json.loads((tmp_path / 'run' / 'config.json').read_text())
  assert config['parallelism'] == 'mesh'


@pytest.mark.slow
def test_resume_after_sigkill_is_bitwise_equal(small_config, train_cli, tmp_path):
  overrides = {'checkpoint_every_steps': 2}
  straight = train_loop.train_and_evaluate(small_config(**overrides), str(tmp_path / 'straight'))

  killed_dir = tmp_path / 'killed'
  process = train_cli(killed_dir, **overrides)
  checkpoints = killed_dir / 'checkpoints'
  wait_for(
      lambda: checkpoints.exists()
      and any(name.isdigit() and int(name) >= 8 for name in os.listdir(checkpoints)),
      process,
  )
  process.send_signal(signal.SIGKILL)
  process.wait()
  resumed = train_cli(killed_dir, **overrides)
  output, _ = resumed.communicate(timeout=600)
  assert resumed.returncode == 0, output
  assert 'Resuming from the checkpoint at step' in output
  step, state, _ = _restore_final(str(killed_dir), small_config(**overrides))
  assert step == 16
  assert _tree_bytes(state.params) == _tree_bytes(straight.state.params)
  assert _tree_bytes(state.batch_stats) == _tree_bytes(straight.state.batch_stats)
  assert _tree_bytes(state.opt_state) == _tree_bytes(straight.state.opt_state)


@pytest.mark.slow
def test_sigterm_mid_epoch_saves_exits_zero_and_resumes(small_config, train_cli, tmp_path):
  overrides = {'data.synthetic_num_train': 2048, 'num_epochs': 20, 'log_every_steps': 1}
  process = train_cli(tmp_path, **overrides)
  metrics = tmp_path / 'metrics.jsonl'
  wait_for(lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 3, process)
  process.send_signal(signal.SIGTERM)
  output, _ = process.communicate(timeout=300)
  assert process.returncode == 0, output
  assert 'Stopped by SIGTERM' in output and 'Run the same command again to resume' in output
  saved = Checkpointer(str(tmp_path / 'checkpoints'), keep=2).latest_step()
  assert saved is not None and saved % 32 != 0  # 32 steps an epoch: it stopped mid-epoch

  resumed = train_cli(tmp_path, **{**overrides, 'num_train_steps': saved + 2})
  output, _ = resumed.communicate(timeout=600)
  assert resumed.returncode == 0, output
  assert f'Resuming from the checkpoint at step {saved}' in output
  assert Checkpointer(str(tmp_path / 'checkpoints'), keep=2).latest_step() == saved + 2


@pytest.mark.slow
def test_nan_loss_stops_and_last_good_checkpoint_restores(small_config, tmp_path, monkeypatch):
  first = train_loop.train_and_evaluate(small_config(num_epochs=1), str(tmp_path))
  nan_loss = lambda settings, logits, targets: jnp.full((), jnp.nan)
  monkeypatch.setattr(steps, 'train_loss', nan_loss)
  with pytest.raises(train_loop.NonFiniteLossError, match=r'training loss is nan at step 9'):
    train_loop.train_and_evaluate(small_config(num_epochs=2), str(tmp_path))
  monkeypatch.undo()
  step, state, _ = _restore_final(str(tmp_path), small_config(num_epochs=2))
  assert step == 8
  assert _tree_bytes(state.params) == _tree_bytes(first.state.params)


_TWO_PROCESS_SCRIPT = """
import hashlib, sys
import jax
jax.distributed.initialize(sys.argv[1], 2, int(sys.argv[2]))
import numpy as np
from conftest import small_run_config
from cutmix_jax.training import train_loop
config = small_run_config(num_train_steps=6, checkpoint_every_steps=3, parallelism=sys.argv[4])
result = train_loop.train_and_evaluate(config, sys.argv[3])
digest = hashlib.sha256(b''.join(np.asarray(x).tobytes() for x in jax.tree.leaves(result.state)))
step = result.step
print('devices', jax.device_count(), 'local', jax.local_device_count(), 'step', step)
print('state', digest.hexdigest())
"""


@pytest.mark.slow
@pytest.mark.parametrize('parallelism', devices.PARALLELISMS)
def test_two_processes_stay_in_sync(tmp_path, parallelism):
  script = tmp_path / 'two_process.py'
  script.write_text(_TWO_PROCESS_SCRIPT)
  processes = start_two_processes(script, tmp_path / 'run', parallelism, port=free_port())
  outputs = [p.communicate(timeout=600)[0] for p in processes]
  for process, output in zip(processes, outputs):
    assert process.returncode == 0, output
  lines = [
      [line for line in out.splitlines() if line.startswith(('devices', 'state'))]
      for out in outputs
  ]
  assert lines[0][0] == lines[1][0] == 'devices 8 local 4 step 6'
  assert lines[0][1] == lines[1][1]  # the same parameters, optimizer state and statistics


@pytest.mark.slow
@pytest.mark.parametrize(
    'flag, message',
    [
        (
            '--config.model=resnet_cifar21',
            "config.model='resnet_cifar21' is not valid; choose one of: ",
        ),
        (
            '--config.mix.method=cutmixx',
            "unknown mix method 'cutmixx'; valid methods: none, cutmix, ",
        ),
        (
            '--config.mix.level=feature --config.mix.cutmix.mode=elem',
            "level='feature' is CutMix with ",
        ),
        (
            '--config.data.source=imagenet',
            "unknown dataset 'imagenet'; valid forms: cifar10_mini, shapes, textures, folder:PATH",
        ),
        ('--config.batch_size=100', 'batch_size=100 is not divisible by the device count 8'),
        ('--config.mix.prob=1.5', 'prob must be in [0, 1]'),
        ('--config.dtype=float8', "config.dtype='float8' is not valid"),
        ('--config.no_such_key=1', '--config.no_such_key: '),
        ('--config.batch_size=abc', 'flag --config.batch_size=abc'),
        ('--config.data.source=folder:/no/such/dir', '/no/such/dir'),
        ('--config.optimizer.warmup_epochs=70', 'must all come after the warm-up'),  # decay at 60
    ],
)
def test_bad_config_stops_with_one_line(tmp_path, flag, message):
  args = [
      sys.executable,
      os.path.join(REPO, 'train.py'),
      f'--workdir={tmp_path}/run',
      *flag.split(),
  ]
  out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
  assert out.returncode != 0
  last = out.stderr.strip().splitlines()[-1]
  assert last.startswith('error: ') and message in last, out.stderr[-2000:]
  assert not os.path.exists(tmp_path / 'run' / 'checkpoints')


def test_tensorboard_tags_are_grouped_and_metrics_jsonl_keeps_its_keys(tmp_path):
  import struct

  from tensorboard.compat.proto import event_pb2

  from cutmix_jax.training.metric_log import MetricLog

  log = MetricLog(str(tmp_path))
  scalars = {'train_loss': 1.5, 'learning_rate': 0.1, 'eval_top1_error': 40.0}
  log.write(3, 0.5, {**scalars, 'best_eval_top1_error': 40.0, 'epoch_train_loss': 1.4})
  log.close()
  (path,) = [p for p in tmp_path.rglob('events.out.tfevents*')]
  data, tags = path.read_bytes(), []
  while data:  # TFRecords: length (8 bytes), its CRC (4), the event, its CRC (4)
    (length,) = struct.unpack('<Q', data[:8])
    event = event_pb2.Event.FromString(data[12 : 12 + length])
    tags += [value.tag for value in event.summary.value]
    data = data[16 + length :]
  assert tags == [
      'train/loss',
      'train/learning_rate',
      'eval/top1_error',
      'eval/best_top1_error',
      'train/epoch_loss',
  ]
  row = json.loads((tmp_path / 'metrics.jsonl').read_text().splitlines()[0])
  assert set(scalars) < set(row)  # the flat names, as before


@pytest.mark.slow  # two short trainings
def test_profile_steps_write_a_trace_and_leave_the_training_unchanged(small_config, tmp_path):
  plain = train_loop.train_and_evaluate(small_config(num_epochs=1), str(tmp_path / 'plain'))
  config = small_config(num_epochs=1, profile_steps=(2, 4))
  traced = train_loop.train_and_evaluate(config, str(tmp_path / 'traced'))
  traces = list((tmp_path / 'traced' / 'profile').rglob('*.xplane.pb'))
  assert len(traces) == 1 and traces[0].stat().st_size > 0
  assert list((tmp_path / 'traced' / 'profile').rglob('perfetto_trace.json.gz'))
  assert not (tmp_path / 'plain' / 'profile').exists()
  for a, b in zip(jax.tree.leaves(plain.state.params), jax.tree.leaves(traced.state.params)):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize('steps', [(4, 2), (3,), (-1, 2)])
def test_profile_steps_that_are_not_a_window_are_refused(small_config, steps):
  from cutmix_jax.errors import UserError
  from cutmix_jax.training import run_config

  with pytest.raises(UserError, match='profile_steps must be START,STOP with 0 <= START < STOP'):
    run_config.check_config(small_config(profile_steps=steps))
