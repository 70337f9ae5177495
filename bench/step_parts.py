"""Where a CPU train step's time goes: the model's forward and backward, and one 3x3 convolution's
forward, input gradient and filter gradient, in JAX and (where importable) in PyTorch; the filter
gradient both as XLA computes it (`lax`) and as the models do (`models/filter_gradient.py`).

float32, one device, the CIFAR ResNet of `--model` at `--batch`; every figure the best of
`--rounds` rounds of `--steps` calls, the two frameworks in turn. Run it where both are installed
(PyTorch is never a requirement):

  PYTHONPATH=. /tmp/timmenv/bin/python bench/step_parts.py --model resnet_cifar20 --batch 128
"""

import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from cutmix_jax.config import files  # noqa: E402  (after the path on purpose)
from cutmix_jax.models import filter_gradient  # noqa: E402
from cutmix_jax.training import run_builder  # noqa: E402
from cutmix_jax.training import run_config  # noqa: E402
from cutmix_jax.training import train_state  # noqa: E402

CONVOLUTIONS = ((16, 32), (32, 16), (64, 8))  # (channels, side): the three stages of a CIFAR ResNet


def best_ms(call, steps: int, rounds: int) -> float:
  """The best per-call milliseconds of `rounds` rounds of `steps` calls (after one warm call)."""
  call()
  best = float('inf')
  for _ in range(rounds):
    start = time.perf_counter()
    for _ in range(steps):
      call()
    best = min(best, (time.perf_counter() - start) / steps * 1e3)
  return best


def jax_parts(model_name: str, batch: int) -> dict:
  """name -> a call that runs that part once in JAX and waits for it."""
  config = files.load(os.path.join(REPO, 'configs', 'default.py'))
  config.model, config.dtype = model_name, 'float32'
  config = run_config.check_config(config)
  model = run_builder.build_model(config, 10)
  state = train_state.create_train_state(0, model, (32, 32, 3), optax.sgd(0.1))
  images = jax.random.normal(jax.random.key(0), (batch, 32, 32, 3))
  labels = jnp.arange(batch) % 10

  def loss(params):
    variables = {'params': params, 'batch_stats': state.batch_stats}
    logits, _ = model.apply(variables, images, train=True, mutable=['batch_stats'])
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

  forward, gradient = jax.jit(loss), jax.jit(jax.grad(loss))
  parts = {
      'model forward (train mode)': lambda: forward(state.params).block_until_ready(),
      'model forward + backward': lambda: jax.block_until_ready(gradient(state.params)),
  }
  conv = lambda x, w: jax.lax.conv_general_dilated(
      x, w, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC')
  )
  grouped = lambda x, w: filter_gradient.conv_general_dilated(
      x, w, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC')
  )
  for channels, side in CONVOLUTIONS:
    x = jax.random.normal(jax.random.key(1), (batch, side, side, channels))
    w = jax.random.normal(jax.random.key(2), (3, 3, channels, channels))
    dy = jax.random.normal(jax.random.key(3), (batch, side, side, channels))
    of_x = jax.jit(lambda x, w, dy: jax.vjp(lambda x: conv(x, w), x)[1](dy)[0])
    of_w = jax.jit(lambda x, w, dy: jax.vjp(lambda w: conv(x, w), w)[1](dy)[0])
    name = f'conv 3x3 {channels} ch {side}x{side}'
    parts[f'{name}: forward'] = lambda f=jax.jit(conv), x=x, w=w: f(x, w).block_until_ready()
    parts[f'{name}: input gradient'] = lambda f=of_x, a=(x, w, dy): f(*a).block_until_ready()
    parts[f'{name}: filter gradient'] = lambda f=of_w, a=(x, w, dy): f(*a).block_until_ready()
    of_w = jax.jit(lambda x, w, dy: jax.vjp(lambda w: grouped(x, w), w)[1](dy)[0])
    parts[f'{name}: filter gradient, ours'] = lambda f=of_w, a=(x, w, dy): f(*a).block_until_ready()
  return parts


def torch_parts(model_name: str, batch: int) -> dict:
  """The same parts in PyTorch (the official code's CIFAR ResNets), or {} without torch."""
  try:
    import torch  # pylint: disable=import-outside-toplevel
    from torch.nn import functional as F  # pylint: disable=import-outside-toplevel
    import torch_pyramidnet  # pylint: disable=import-outside-toplevel
  except ImportError:
    return {}
  model = torch_pyramidnet.build(model_name, 10).train()
  images, labels = torch.randn(batch, 3, 32, 32), torch.arange(batch) % 10

  def forward():
    with torch.no_grad():
      return F.cross_entropy(model(images), labels)

  def backward():
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(images), labels).backward()

  parts = {'model forward (train mode)': forward, 'model forward + backward': backward}
  for channels, side in CONVOLUTIONS:
    x = torch.randn(batch, channels, side, side)
    w = torch.randn(channels, channels, 3, 3)
    dy = torch.randn(batch, channels, side, side)
    name = f'conv 3x3 {channels} ch {side}x{side}'
    parts[f'{name}: forward'] = lambda x=x, w=w: F.conv2d(x, w, padding=1)
    parts[f'{name}: input gradient'] = lambda x=x, w=w, dy=dy: torch.nn.grad.conv2d_input(
        x.shape, w, dy, padding=1
    )
    parts[f'{name}: filter gradient'] = lambda x=x, w=w, dy=dy: torch.nn.grad.conv2d_weight(
        x, w.shape, dy, padding=1
    )
  return parts


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--model', default='resnet_cifar20')
  parser.add_argument('--batch', type=int, default=128)
  parser.add_argument('--steps', type=int, default=10)
  parser.add_argument('--rounds', type=int, default=3)
  args = parser.parse_args()
  ours, theirs = jax_parts(args.model, args.batch), torch_parts(args.model, args.batch)
  print(
      f'{args.model}, batch {args.batch}, float32, one CPU device; best of {args.rounds} x '
      f'{args.steps} calls; jax {jax.__version__}'
  )
  print(f'{"part":<44} {"JAX ms":>9} {"PyTorch ms":>11} {"JAX/PyTorch":>12}')
  for name, call in ours.items():
    mine = best_ms(call, args.steps, args.rounds)
    if name in theirs:
      other = best_ms(theirs[name], args.steps, args.rounds)
      print(f'{name:<44} {mine:9.2f} {other:11.2f} {mine / other:12.2f}')
    else:
      print(f'{name:<44} {mine:9.2f} {"-":>11} {"-":>12}')


if __name__ == '__main__':
  main()
