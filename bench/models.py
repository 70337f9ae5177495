"""Training-step throughput of the model zoo: forward + backward, images per second.

Times `jax.value_and_grad` of the mean cross-entropy through `model.apply(..., train=True)` (batch
statistics updated, no optimizer), on random data, after a warm-up that compiles the step.

  python bench/models.py --models resnet_cifar20 pyramidnet200 resnet50 --batch 128 8 8 \
      --dtype float32 --steps 5
"""

import argparse
import time

from common import input_setting
import jax
import jax.numpy as jnp
import optax

from cutmix_jax.models import MODELS
from cutmix_jax.models import get_model

DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}


def make_grad_step(model):
  """A jitted `(params, batch_stats, images, labels) -> ((loss, batch_stats), grads)`."""

  def loss_fn(params, batch_stats, images, labels):
    logits, state = model.apply(
        {'params': params, 'batch_stats': batch_stats}, images, train=True, mutable=['batch_stats']
    )
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return loss, state['batch_stats']

  return jax.jit(jax.value_and_grad(loss_fn, has_aux=True))


def benchmark(name: str, batch: int, dtype, steps: int):
  """Times `steps` gradient steps of model `name` after one warm-up step.

  Returns:
    dict with the compile-and-first-step seconds, milliseconds per step and images per second.
  """
  side, num_classes = input_setting(name)
  model = get_model(name, num_classes, dtype=dtype)
  images = jax.random.normal(jax.random.key(0), (batch, side, side, 3))
  labels = jax.random.randint(jax.random.key(1), (batch,), 0, num_classes)
  # An 'rbg' key: with threefry, XLA:CPU takes minutes to compile the init of pyramidnet200.
  variables = jax.jit(model.init)(jax.random.key(2, impl='rbg'), images[:1])
  step = make_grad_step(model)
  args = (variables['params'], variables['batch_stats'], images, labels)
  start = time.perf_counter()
  jax.block_until_ready(step(*args))
  warmup = time.perf_counter() - start
  start = time.perf_counter()
  for _ in range(steps):
    out = step(*args)
  jax.block_until_ready(out)
  seconds = (time.perf_counter() - start) / steps
  return {'side': side, 'warmup_s': warmup, 'ms': 1e3 * seconds, 'images_per_s': batch / seconds}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument(
      '--models',
      nargs='+',
      default=['resnet_cifar20', 'pyramidnet200', 'resnet50'],
      choices=sorted(MODELS),
  )
  parser.add_argument(
      '--batch',
      nargs='+',
      type=int,
      default=[128, 64, 256],
      help='batch size of each model, in the order of --models',
  )
  parser.add_argument('--dtype', choices=sorted(DTYPES), default='float32')
  parser.add_argument('--steps', type=int, default=10, help='timed steps, after one warm-up')
  args = parser.parse_args()
  if len(args.batch) != len(args.models):
    parser.error(f'--batch needs one size per model ({len(args.models)}); got {args.batch}')
  device = jax.devices()[0]
  print(
      f'jax {jax.__version__}, {device.platform} ({device.device_kind}), {args.dtype}, '
      f'{args.steps} timed steps'
  )
  print(
      f'{"model":16s} {"input":>7s} {"batch":>6s} {"warm-up s":>10s} {"ms/step":>9s} '
      f'{"images/s":>9s}'
  )
  for name, batch in zip(args.models, args.batch):
    result = benchmark(name, batch, DTYPES[args.dtype], args.steps)
    print(
        f'{name:16s} {result["side"]:>3d}x{result["side"]:<3d} {batch:>6d} '
        f'{result["warmup_s"]:>10.1f} {result["ms"]:>9.1f} {result["images_per_s"]:>9.1f}',
        flush=True,
    )


if __name__ == '__main__':
  main()
