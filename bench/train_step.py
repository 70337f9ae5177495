"""Images/s of the full train step (forward, backward, SGD) with and without mixing.

Synthetic data already on the device; the optimiser, schedule and step are the ones `train.py`
uses. Methods (and, with `--parallelism mesh pmap`, the two ways of spanning the devices) are
timed in alternating rounds in one process, so their ratio is robust to drift.
Issue 8's figures: ResNet-50 at 224 x 224, batch 256, bfloat16; PyramidNet-200 at 32 x 32,
batch 64 and 256.

  python bench/train_step.py --model resnet50 --batch 256 --dtype bfloat16 --methods none cutmix
  python bench/train_step.py --model resnet_cifar20 --batch 128 --dtype float32   # CPU check
  python bench/train_step.py --model resnet_cifar20 --batch 128 --methods cutmix \
      --parallelism mesh pmap          # jit over a mesh against pmap (8 host devices: XLA_FLAGS)
"""

import argparse
import time

from common import input_setting
from common import print_method_table
import flax
import jax
import numpy as np

from cutmix_jax import models
from cutmix_jax.commands import host_memory
from cutmix_jax.config import files
from cutmix_jax.training import devices as cutmix_devices
from cutmix_jax.training import optim
from cutmix_jax.training import run_builder
from cutmix_jax.training import run_config
from cutmix_jax.training import train_state


def make_config(args, label: str, parallelism: str = 'mesh'):
  """The train config of a row: a mix method, or `cutmix_feature` (CutMix at feature level)."""
  config = files.load('../configs/default.py', relative_to=__file__)
  config.model, config.dtype, config.batch_size = args.model, args.dtype, args.batch
  config.parallelism = parallelism
  config.mix.prob = 1.0
  if label == 'cutmix_feature':
    config.mix.method, config.mix.level, config.mix.partners = 'cutmix', 'feature', 'device'
  else:
    config.mix.method = label
  return config


def compiled_step(config, model, num_classes: int, placement):
  """The train step of `config` (as `train.py` builds it), for normalized float inputs."""
  config = run_config.check_config(config)
  schedule = optim.learning_rate_schedule(config.optimizer, config.batch_size, 1000)
  return run_builder.compiled_train_step(
      config,
      model,
      num_classes,
      1000,
      preprocess=lambda _, images: images,
      schedule=schedule,
      placement=placement,
  )


def time_steps(step, state, batch, count: int):
  """Runs `count` steps; returns (state, seconds). One host sync at the end only."""
  start = time.perf_counter()
  for _ in range(count):
    state, metrics = step(state, batch)
  jax.block_until_ready((state, metrics))
  return state, time.perf_counter() - start


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--model', default='resnet50')
  parser.add_argument('--batch', type=int, default=256, help='global batch')
  parser.add_argument('--dtype', default='bfloat16', choices=list(models.DTYPES))
  parser.add_argument(
      '--methods',
      nargs='+',
      default=['none', 'cutmix'],
      help='mix methods, and cutmix_feature for feature-level CutMix',
  )
  parser.add_argument(
      '--parallelism',
      nargs='+',
      default=['mesh'],
      choices=cutmix_devices.PARALLELISMS,
      help='how the step spans the devices; several: each method under each, in turn',
  )
  parser.add_argument(
      '--plain-malloc',
      action='store_true',
      help="glibc's default arenas (train.py keeps freed memory on CPU-only installs: "
      'cutmix_jax/commands/host_memory.py)',
  )
  parser.add_argument('--steps', type=int, default=20, help='steps per timed round')
  parser.add_argument('--rounds', type=int, default=5)
  parser.add_argument('--json', default='', help='also write the table here')
  parser.add_argument(
      '--profile',
      default='',
      help='after timing, write a jax.profiler trace of 5 steps of the last '
      'method to this directory',
  )
  args = parser.parse_args()
  if host_memory.runs_on_cpu_only() and not args.plain_malloc:
    host_memory.keep_freed_memory()

  side, num_classes = input_setting(args.model)
  config = make_config(args, args.methods[0])
  checked = run_config.check_config(config)
  model = run_builder.build_model(checked, num_classes)
  schedule = optim.learning_rate_schedule(checked.optimizer, args.batch, 1000)
  optimizer = optim.make_optimizer(checked.optimizer, schedule)
  state = train_state.create_train_state(0, model, (side, side, 3), optimizer)
  images = jax.random.normal(
      jax.random.key(0), (args.batch, side, side, 3), models.DTYPES[args.dtype]
  )
  labels = jax.random.randint(jax.random.key(1), images.shape[:1], 0, num_classes)
  host_batch = {'image': np.asarray(images), 'label': np.asarray(labels)}
  rows = [(m, p) for p in args.parallelism for m in args.methods]
  label = lambda m, p: m if len(args.parallelism) == 1 else f'{m} ({p})'
  placements = {p: cutmix_devices.placement(p) for p in args.parallelism}
  batches = {p: placements[p].put_batch(host_batch) for p in args.parallelism}
  states = {label(m, p): placements[p].put_state(state) for m, p in rows}
  compiled = {
      label(m, p): compiled_step(make_config(args, m, p), model, num_classes, placements[p])
      for m, p in rows
  }
  for m, p in rows:  # compile and warm up
    states[label(m, p)], _ = time_steps(compiled[label(m, p)], states[label(m, p)], batches[p], 2)
  seconds = {label(m, p): [] for m, p in rows}
  for _ in range(args.rounds):
    for m, p in rows:
      name = label(m, p)
      states[name], took = time_steps(compiled[name], states[name], batches[p], args.steps)
      seconds[name].append(took / args.steps)
  if args.profile:
    method, parallelism = rows[-1]
    name = label(method, parallelism)
    with jax.profiler.trace(args.profile):
      states[name], _ = time_steps(compiled[name], states[name], batches[parallelism], 5)
  device, devices = jax.devices()[0].device_kind, jax.local_device_count()
  print(
      f'{args.model} batch {args.batch} {args.dtype} on {devices} x {device}, '
      f'jax {jax.__version__}, flax {flax.__version__}'
  )
  print_method_table(
      args.batch,
      seconds,
      args.json,
      framework='jax',
      model=args.model,
      dtype=args.dtype,
      device=device,
      devices=devices,
      software=f'jax {jax.__version__}, flax {flax.__version__}',
  )


if __name__ == '__main__':
  main()
