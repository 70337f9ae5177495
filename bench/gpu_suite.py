"""Every GPU figure of docs/PERFORMANCE.md in one command, as one table (markdown and JSON).

  python bench/gpu_suite.py --out runs/gpu_suite --cifar10 /tmp/cifar10   # CIFAR-10 folder root
  python bench/gpu_suite.py --out runs/gpu_suite --parts resnet50 mixing  # some parts only

Parts (all by default):
  resnet50    ResNet-50 224², batch 256: this project's step (bf16 compute, float32 weights)
              against torchvision's under torch.compile, each with and without CutMix; with
              --profile, a jax.profiler trace of the JAX CutMix step.
  pyramidnet  PyramidNet-200 (alpha 240) 32², batch 64 and 256: the same comparison.
  mixing      bench/mixing.py: the CutMix op against the `images[perm]` gather, bf16 and float32.
  parallelism the ResNet-50 CutMix step under jit over a mesh against pmap, in turn.
  augment     bench/augment.py: DeiT's and DeiT III's on-device augmentations, batch 256 of 224².
  e2e         train.py on the CIFAR-10 folder (in memory) for --e2e-steps steps: the loop's
              images/s from metrics.jsonl against the pure step rate of the same model and batch.

Each measurement runs in its own process, so JAX and PyTorch never hold the GPU at once, and
writes a JSON file into OUT. The table is rebuilt from every JSON file in OUT, so parts run in
separate calls add up to one table. Needs no TensorFlow (carry ml_collections where it is missing).
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
PARTS = ('resnet50', 'pyramidnet', 'mixing', 'parallelism', 'augment', 'e2e')


def step_pair(out: str, model: str, batch: int, profile: str = '') -> list:
  """The JAX and the compiled PyTorch step of `model`, none and cutmix, as (name, command)."""
  jax_name, torch_name = f'step_jax_{model}_b{batch}', f'step_torch_{model}_b{batch}'
  jax_command = [
      sys.executable,
      f'{BENCH}/train_step.py',
      '--model',
      model,
      '--batch',
      str(batch),
      '--dtype',
      'bfloat16',
      '--methods',
      'none',
      'cutmix',
      '--json',
      f'{out}/{jax_name}.json',
  ]
  if profile:
    jax_command += ['--profile', profile]
  torch_command = [
      sys.executable,
      f'{BENCH}/torch_train_step.py',
      '--model',
      model,
      '--batch',
      str(batch),
      '--compile',
      '--methods',
      'none',
      'cutmix',
      '--json',
      f'{out}/{torch_name}.json',
  ]
  return [(jax_name, jax_command), (torch_name, torch_command)]


def e2e_commands(args) -> list:
  """train.py on the CIFAR-10 folder, then the pure step of the same model, batch and CutMix."""
  workdir = f'{args.out}/e2e_run'
  train = [
      sys.executable,
      f'{ROOT}/train.py',
      f'--workdir={workdir}',
      f'--config.data.source=folder:{args.cifar10}',
      '--config.data.holdout_per_class=500',
      '--config.eval_every_epochs=1',
      f'--config.model={args.e2e_model}',
      '--config.dtype=bfloat16',
      f'--config.batch_size={args.e2e_batch}',
      '--config.mix.method=cutmix',
      '--config.mix.prob=1.0',
      f'--config.num_train_steps={args.e2e_steps}',
      '--config.log_every_steps=25',
      '--config.progress_bar=False',
  ]
  pure = [
      sys.executable,
      f'{BENCH}/train_step.py',
      '--model',
      args.e2e_model,
      '--batch',
      str(args.e2e_batch),
      '--dtype',
      'bfloat16',
      '--methods',
      'cutmix',
      '--json',
      f'{args.out}/e2e_pure_step.json',
  ]
  return [('e2e_train', train), ('e2e_pure_step', pure)]


def commands(args, part: str) -> list:
  if part == 'resnet50':
    return step_pair(args.out, 'resnet50', 256, f'{args.out}/profile' if args.profile else '')
  if part == 'pyramidnet':
    return step_pair(args.out, 'pyramidnet200', 64) + step_pair(args.out, 'pyramidnet200', 256)
  if part == 'mixing':
    return [('mixing', [sys.executable, f'{BENCH}/mixing.py', '--json', f'{args.out}/mixing.json'])]
  if part == 'parallelism':  # the train step under jit over a mesh against pmap, in turn
    rows = ['--methods', 'cutmix', '--parallelism', 'mesh', 'pmap']
    step = [f'{BENCH}/train_step.py', '--model', 'resnet50', '--batch', '256', *rows]
    return [('parallelism', [sys.executable, *step, '--json', f'{args.out}/parallelism.json'])]
  if part == 'augment':
    augment = [f'{BENCH}/augment.py', '--batch', '256', '--json', f'{args.out}/augment.json']
    return [('augment', [sys.executable, *augment])]
  return e2e_commands(args)


def run(name: str, command: list, out: str, timeout: float) -> None:
  """Runs one measurement, its output in OUT/NAME.log; a failure is noted, not fatal."""
  print(f'[{time.strftime("%H:%M:%S")}] {name}: {" ".join(command)}', flush=True)
  start = time.time()
  with open(f'{out}/{name}.log', 'w', encoding='utf-8') as log:
    try:
      code = subprocess.run(
          command, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, cwd=ROOT, check=False
      ).returncode
    except subprocess.TimeoutExpired:
      code = f'timed out after {timeout:.0f} s'
  status = 'ok' if code == 0 else f'FAILED ({code}); see {out}/{name}.log'
  print(f'    {status}, {time.time() - start:.0f} s', flush=True)


def e2e_summary(out: str):
  """Loop img/s (median of the logged intervals but the first, which holds the compile)."""
  path = f'{out}/e2e_run/metrics.jsonl'
  if not os.path.isfile(path) or not os.path.isfile(f'{out}/e2e_pure_step.json'):
    return None
  records = [json.loads(line) for line in open(path, encoding='utf-8')]
  rates = [r['images_per_second'] for r in records if 'images_per_second' in r][1:]
  with open(f'{out}/e2e_pure_step.json', encoding='utf-8') as f:
    pure = json.load(f)
  return {
      'model': pure['model'],
      'batch': pure['batch'],
      'steps': records[-1]['step'],
      'loop_images_per_second': statistics.median(rates),
      'pure_images_per_second': pure['rows'][0]['images_per_second'],
  }


def load(out: str, pattern: str) -> dict:
  found = {}
  for path in sorted(glob.glob(f'{out}/{pattern}')):
    with open(path, encoding='utf-8') as f:
      found[os.path.basename(path)[: -len('.json')]] = json.load(f)
  return found


def step_lines(steps: dict) -> list:
  lines = [
      '| model | batch | framework | none img/s | cutmix img/s | CutMix cost | '
      'vs torch.compile (none / cutmix) |',
      '|---|---|---|---|---|---|---|',
  ]
  for name, result in steps.items():
    rates = {row['method']: row['images_per_second'] for row in result['rows']}
    torch_result = steps.get(name.replace('step_jax_', 'step_torch_'))
    ratio = ''
    if result['framework'] == 'jax' and torch_result:
      torch_rates = {row['method']: row['images_per_second'] for row in torch_result['rows']}
      ratio = ' / '.join(f'{rates[m] / torch_rates[m]:.2f}x' for m in ('none', 'cutmix'))
    cost = 100 * (rates['none'] / rates['cutmix'] - 1)
    lines.append(
        f'| {result["model"]} | {result["batch"]} | {result["software"]} | '
        f'{rates["none"]:,.0f} | {rates["cutmix"]:,.0f} | {cost:+.2f} % | {ratio} |'
    )
  return lines


def report(out: str) -> str:
  """The markdown table of every result in OUT; also writes OUT/suite.md and OUT/suite.json."""
  steps = load(out, 'step_*.json')
  mixing = load(out, 'mixing.json').get('mixing')
  parallelism = load(out, 'parallelism.json').get('parallelism')
  augment = load(out, 'augment.json').get('augment')
  e2e = e2e_summary(out)
  any_result = next(iter(steps.values()), mixing or augment or {})
  lines = [f'Device: {any_result.get("device", "?")}.', '']
  if steps:
    lines += ['### Train step (synthetic data on device; median of alternating rounds)', '']
    lines += step_lines(steps) + ['']
  if parallelism:
    lines += ['### The train step: jit over a mesh against pmap (ResNet-50, CutMix)', '']
    lines += [
        f'- {r["method"]}: {r["images_per_second"]:,.0f} img/s ({r["change_percent"]:+.2f} %)'
        for r in parallelism['rows']
    ] + ['']
  if augment:
    lines += ["### DeiT's augmentations on device (batch 256 of 224², uint8 in)", '']
    lines += [
        f'- {r["method"]}: {r["images_per_second"]:,.0f} img/s ({r["ms_per_step"]:.2f} ms)'
        for r in augment['rows']
    ] + ['']
  if mixing:
    lines += [
        '### The mixing ops against the `images[perm]` gather (fastest of the calls)',
        '',
        '| op | batch | dtype | op ms | gather ms | ratio |',
        '|---|---|---|---|---|---|',
    ]
    lines += [
        f'| {r["op"]} | {tuple(r["shape"])} | {r["dtype"]} | {r["op_ms"]:.3f} | '
        f'{r["gather_ms"]:.3f} | {r["op_ms"] / r["gather_ms"]:.2f} |'
        for r in mixing['rows']
    ] + ['']
  if e2e:
    lines += [
        '### End to end: train.py on CIFAR-10 JPEGs (in memory) vs the pure step',
        '',
        '| model | batch | steps | loop img/s | pure step img/s | loop / pure |',
        '|---|---|---|---|---|---|',
        f'| {e2e["model"]} | {e2e["batch"]} | {e2e["steps"]} | '
        f'{e2e["loop_images_per_second"]:,.0f} | {e2e["pure_images_per_second"]:,.0f} | '
        f'{100 * e2e["loop_images_per_second"] / e2e["pure_images_per_second"]:.1f} % |',
        '',
    ]
  table = '\n'.join(lines)
  with open(f'{out}/suite.md', 'w', encoding='utf-8') as f:
    f.write(table)
  with open(f'{out}/suite.json', 'w', encoding='utf-8') as f:
    json.dump({'steps': steps, 'mixing': mixing, 'augment': augment, 'e2e': e2e}, f, indent=2)
  return table


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', default='runs/gpu_suite')
  parser.add_argument('--parts', nargs='+', default=list(PARTS), choices=PARTS)
  parser.add_argument('--cifar10', default='', help='CIFAR-10 folder root (holds train/); for e2e')
  parser.add_argument('--e2e-model', default='resnet_cifar110')
  parser.add_argument('--e2e-batch', type=int, default=256)
  parser.add_argument('--e2e-steps', type=int, default=525, help='3 epochs at batch 256')
  parser.add_argument('--profile', action='store_true', help='trace the JAX ResNet-50 step')
  parser.add_argument('--timeout', type=float, default=300, help='seconds per measurement')
  args = parser.parse_args()
  if 'e2e' in args.parts and not os.path.isdir(os.path.join(args.cifar10, 'train')):
    parser.error(f'--cifar10={args.cifar10!r} must be a folder holding train/ (for part e2e)')

  os.makedirs(args.out, exist_ok=True)
  for part in args.parts:
    for name, command in commands(args, part):
      run(name, command, args.out, args.timeout)
  print(report(args.out))


if __name__ == '__main__':
  main()
