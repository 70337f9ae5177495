"""Images/s of the full pmapped train step (forward, backward, SGD) with and without mixing.

Synthetic data already on the device; the optimiser, schedule and step are the ones `train.py`
uses. Methods are timed in alternating rounds in one process, so their ratio is robust to drift.
Issue 8's figures: ResNet-50 at 224 x 224, batch 256, bfloat16; PyramidNet-200 at 32 x 32,
batch 64 and 256.

  python bench/train_step.py --model resnet50 --batch 256 --dtype bfloat16 --methods none cutmix
  python bench/train_step.py --model resnet_cifar20 --batch 128 --dtype float32   # CPU check
"""

import argparse
import time

from common import input_setting
from common import print_method_table
import flax
import jax

from cutmix_jax import models
from cutmix_jax.config import files
from cutmix_jax.training import devices as cutmix_devices
from cutmix_jax.training import optim
from cutmix_jax.training import run_builder
from cutmix_jax.training import run_config
from cutmix_jax.training import train_state


def make_config(args, label: str):
  """The train config of a row: a mix method, or `cutmix_feature` (CutMix at feature level)."""
  config = files.load('../configs/default.py', relative_to=__file__)
  config.model, config.dtype, config.batch_size = args.model, args.dtype, args.batch
  config.mix.prob = 1.0
  if label == 'cutmix_feature':
    config.mix.method, config.mix.level, config.mix.partners = 'cutmix', 'feature', 'device'
  else:
    config.mix.method = label
  return config


def compiled_step(config, model, num_classes: int):
  """The pmapped train step of `config` (as `train.py` builds it), for normalized float inputs."""
  config = run_config.check_config(config)
  schedule = optim.learning_rate_schedule(config.optimizer, config.batch_size, 1000)
  return run_builder.compiled_train_step(
      config, model, num_classes, 1000, preprocess=lambda _, images: images, schedule=schedule
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

  side, num_classes = input_setting(args.model)
  devices = jax.local_device_count()
  config = make_config(args, args.methods[0])
  checked = run_config.check_config(config)
  model = run_builder.build_model(checked, num_classes)
  schedule = optim.learning_rate_schedule(checked.optimizer, args.batch, 1000)
  optimizer = optim.make_optimizer(checked.optimizer, schedule)
  state = train_state.create_train_state(0, model, (side, side, 3), optimizer)
  images = jax.random.normal(
      jax.random.key(0), (devices, args.batch // devices, side, side, 3), models.DTYPES[args.dtype]
  )
  labels = jax.random.randint(jax.random.key(1), images.shape[:2], 0, num_classes)
  batch = next(flax.jax_utils.prefetch_to_device(iter([{'image': images, 'label': labels}]), 1))
  states = {m: cutmix_devices.replicate(state) for m in args.methods}
  compiled = {m: compiled_step(make_config(args, m), model, num_classes) for m in args.methods}
  for method in args.methods:  # compile and warm up
    states[method], _ = time_steps(compiled[method], states[method], batch, 2)
  seconds = {m: [] for m in args.methods}
  for _ in range(args.rounds):
    for method in args.methods:
      states[method], took = time_steps(compiled[method], states[method], batch, args.steps)
      seconds[method].append(took / args.steps)
  if args.profile:
    method = args.methods[-1]
    with jax.profiler.trace(args.profile):
      states[method], _ = time_steps(compiled[method], states[method], batch, 5)
  device = jax.devices()[0].device_kind
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
