"""This project's train step against PyTorch's on the CPU, in turn, with the ratio pair by pair.

Each pair runs `bench/train_step.py` (this project, its own Python) and then
`bench/torch_train_step.py` (PyTorch in an environment of its own: torch is never a requirement
of the project) on the same model, batch and method, one after the other, so that a drift of the
machine's speed moves both of a pair. Each run prints the median img/s of its rounds; the table
gives every pair and the median ratio (JAX / PyTorch, above 1 when JAX is faster).

  python bench/cpu_versus_torch.py --torch-python /tmp/torchenv/bin/python --pairs 3
  python bench/cpu_versus_torch.py --torch-python ... --jax-dtype bfloat16 --torch-layout nchw
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def images_per_second(command, env=None) -> float:
  """The img/s of the first method row that a bench script prints."""
  out = subprocess.run(command, capture_output=True, text=True, check=True,
                       env={**os.environ, **(env or {})})  # fmt: skip
  match = re.search(r':\s+([0-9.]+) img/s', out.stdout)
  if match is None:
    raise RuntimeError(f'no img/s in the output of {command}:\n{out.stdout}\n{out.stderr}')
  return float(match.group(1))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--torch-python', required=True, help='the Python of the torch env')
  parser.add_argument('--model', default='resnet_cifar20')
  parser.add_argument('--batch', type=int, default=128)
  parser.add_argument('--method', default='cutmix', choices=['none', 'cutmix'])
  parser.add_argument('--jax-dtype', default='float32', choices=['float32', 'bfloat16'])
  parser.add_argument('--torch-dtype', default='float32', choices=['float32', 'bfloat16'])
  parser.add_argument('--torch-layout', default='nchw', choices=['nchw', 'channels_last'])
  parser.add_argument('--xla-flags', default='', help='XLA_FLAGS of the JAX runs')
  parser.add_argument('--pairs', type=int, default=3)
  parser.add_argument('--steps', type=int, default=5)
  parser.add_argument('--rounds', type=int, default=3)
  parser.add_argument('--json', default='')
  args = parser.parse_args()
  common = ['--model', args.model, '--batch', str(args.batch), '--steps', str(args.steps),
            '--rounds', str(args.rounds), '--methods', args.method]  # fmt: skip
  jax_run = [sys.executable, os.path.join(HERE, 'train_step.py'), *common, '--dtype',
             args.jax_dtype]  # fmt: skip
  torch_run = [args.torch_python, os.path.join(HERE, 'torch_train_step.py'), *common,
               '--dtype', args.torch_dtype, '--layout', args.torch_layout]  # fmt: skip
  jax_env = {'XLA_FLAGS': args.xla_flags}  # one CPU device, whatever the caller's flags
  pairs = []
  for index in range(args.pairs):
    jax_ips = images_per_second(jax_run, jax_env)
    torch_ips = images_per_second(torch_run)
    pairs.append((jax_ips, torch_ips))
    print(f'pair {index + 1}: jax {jax_ips:7.1f} img/s  torch {torch_ips:7.1f} img/s  '
          f'ratio {jax_ips / torch_ips:5.2f}', flush=True)  # fmt: skip
  ratio = statistics.median(j / t for j, t in pairs)
  print(
      f'{args.model} batch {args.batch} {args.method}: jax {args.jax_dtype} '
      f'(XLA_FLAGS={args.xla_flags!r}) / torch {args.torch_dtype} {args.torch_layout}: '
      f'median ratio {ratio:.2f} over {args.pairs} pairs'
  )
  if args.json:
    with open(args.json, 'w', encoding='utf-8') as f:
      json.dump({'args': vars(args), 'pairs': pairs, 'median_ratio': ratio}, f, indent=2)


if __name__ == '__main__':
  main()
