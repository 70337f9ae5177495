"""CutMix vs baseline, Mixup and Cutout on real CIFAR-10, from the JPEG tarball, in one command.

The last 500 images of each class are the validation set (5,000); the other 45,000 train. Every
method runs with the same model, epochs, batch and schedule (lr x0.1 at 50% and 75% of training);
the table of best / final top-1 error per run, mean +- spread per method and wall-clock, and a
plot of validation error against epoch, go to OUT.

  python scripts/cifar10_study.py --tarball ../shared/data/cifar10-jpeg-train.tar.gz \
      --out runs/cifar10_study --model resnet_cifar110 --epochs 60 --batch 256 --lr 0.05 \
      --dtype bfloat16 --jobs 7

`--jobs N` trains N runs at once, each in its own process: small CIFAR nets leave most of a
large GPU idle, so several of them share one well. The parent prints every run's progress.
Reduced CPU version: --model resnet_cifar20 --epochs 3 --methods none cutmix --seeds 0.
"""

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time

import numpy as np

from cutmix_jax.config import files
from cutmix_jax.training import train_loop

# method -> config.mix overrides: the paper's CIFAR CutMix (beta 1, prob 0.5), Mixup alpha 1,
# Cutout 16 x 16 (the Cutout paper's CIFAR-10 size), and feature-level CutMix (paper 4.1) with
# the CutMix settings.
METHODS = {
    'none': {'method': 'none'},
    'cutmix': {'method': 'cutmix', 'alpha': 1.0, 'prob': 0.5},
    'mixup': {'method': 'mixup', 'alpha': 1.0, 'prob': 1.0},
    'cutout': {'method': 'cutout', 'cutout': {'size': 16}, 'prob': 1.0},
    'cutmix_feature': {
        'method': 'cutmix',
        'level': 'feature',
        'partners': 'device',
        'alpha': 1.0,
        'prob': 0.5,
    },
}
RUN_FILE = 'study_run.json'  # a finished run's figures, in its workdir
HOLDOUT = 500  # the last images of each class validate

# Settings for a machine (command-line flags override them). gpu: the full study on 45,000
# training images, 7 runs at once on one GPU. cpu: a regime where one run takes <= 20 minutes on
# 2 CPU cores (docs/RESULTS.md says how it was chosen).
PRESETS = {
    'gpu': dict(model='resnet_cifar110', dtype='bfloat16', epochs=60, batch=256, lr=0.05,
                train_per_class=0, eval_every=1, jobs=7),
    'cpu': dict(model='resnet_cifar20', dtype='bfloat16', epochs=200, batch=128, lr=0.05,
                train_per_class=100, eval_every=10, jobs=1),
}  # fmt: skip


def extract(tarball: str, directory: str) -> str:
  """Extracts the tarball once; returns the folder that holds `train/`."""
  root = os.path.join(directory, 'cifar10')
  if not os.path.isdir(os.path.join(root, 'train')):
    os.makedirs(root, exist_ok=True)
    with tarfile.open(tarball) as archive:
      archive.extractall(root, filter='data')
  return root


def run_config(args, root: str, method: str, seed: int):
  config = files.load('../configs/default.py', relative_to=__file__)
  config.data.source = f'folder:{root}'
  config.data.holdout_per_class = HOLDOUT
  config.data.train_per_class = args.train_per_class  # the first N of each class; 0: all
  config.model, config.dtype, config.seed = args.model, args.dtype, seed
  config.batch_size, config.eval_batch_size = args.batch, 1000
  config.num_epochs = args.epochs
  config.eval_every_epochs = args.eval_every
  config.optimizer.learning_rate = args.lr * args.batch / 64  # the authors' lr at batch 64
  config.optimizer.decay_epochs = (args.epochs * 0.5, args.epochs * 0.75)
  config.log_every_steps = 100
  config.progress_bar = args.progress
  config.mix.update(METHODS[method])
  if config.mix.method == 'cutmix':
    config.mix.prob = args.cutmix_prob
  return config


def eval_curve(workdir: str):
  """(epochs, eval top-1 errors) from a run's metrics.jsonl."""
  records = [json.loads(line) for line in open(os.path.join(workdir, 'metrics.jsonl'))]
  evals = [r for r in records if 'eval_top1_error' in r]
  return [r['epoch'] for r in evals], [r['eval_top1_error'] for r in evals]


def summarize(runs: list) -> str:
  """A markdown table per run and per method (mean +- half range over seeds)."""
  lines = [
      '| method | seed | best top-1 err % | final top-1 err % | wall-clock min |',
      '|---|---|---|---|---|',
  ]
  for run in runs:
    lines.append(
        f'| {run["method"]} | {run["seed"]} | {run["best"]:.2f} | {run["final"]:.2f} | '
        f'{run["minutes"]:.1f} |'
    )
  lines += [
      '',
      '| method | runs | best top-1 err % (mean +- spread) | final top-1 err % |',
      '|---|---|---|---|',
  ]
  for method in dict.fromkeys(run['method'] for run in runs):
    best = np.array([r['best'] for r in runs if r['method'] == method])
    final = np.array([r['final'] for r in runs if r['method'] == method])
    lines.append(
        f'| {method} | {len(best)} | {best.mean():.2f} +- {np.ptp(best) / 2:.2f} | '
        f'{final.mean():.2f} +- {np.ptp(final) / 2:.2f} |'
    )
  return '\n'.join(lines)


def train_loss_curve(workdir: str):
  """(epochs, mean train loss of each epoch) from a run's metrics.jsonl."""
  records = [json.loads(line) for line in open(os.path.join(workdir, 'metrics.jsonl'))]
  epochs = [r for r in records if 'epoch_train_loss' in r]
  return [r['epoch'] for r in epochs], [r['epoch_train_loss'] for r in epochs]


def plot(runs: list, path: str) -> None:
  """Validation error (left) and train loss (right, log scale) against epoch, a line per run."""
  import matplotlib  # pylint: disable=import-outside-toplevel

  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel

  fig, (error_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 4))
  for run in runs:
    label = f'{run["method"]} (seed {run["seed"]})'
    line = error_ax.plot(run['epochs'], run['errors'], label=label)[0]
    loss_ax.plot(*train_loss_curve(run['workdir']), color=line.get_color(), label=label)
  error_ax.set(xlabel='epoch', ylabel='validation top-1 error (%)', title='CIFAR-10 (5k held out)')
  loss_ax.set(xlabel='epoch', ylabel='train loss (mixed targets)', title='Train loss', yscale='log')
  for ax in (error_ax, loss_ax):
    ax.grid(alpha=0.3)
  error_ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=100)


def planned_runs(args) -> list:
  """(method, seed) of every run, in the order of --methods."""
  return [
      (method, seed)
      for method in args.methods
      for seed in (args.seeds[:1] if method in args.single_seed_methods else args.seeds)
  ]


def workdir_of(args, method: str, seed: int) -> str:
  return os.path.join(args.out, f'{method}_seed{seed}')


def train_one(args, root: str, method: str, seed: int) -> None:
  """Trains one run and writes its figures to `WORKDIR/study_run.json`; a run that has one
  already is not trained again (run the same command to finish an interrupted study)."""
  workdir = workdir_of(args, method, seed)
  if os.path.isfile(os.path.join(workdir, RUN_FILE)):
    print(f'{method} seed {seed}: done already ({workdir})', flush=True)
    return
  start = time.time()
  result = train_loop.train_and_evaluate(run_config(args, root, method, seed), workdir)
  epochs, errors = eval_curve(workdir)
  run = {
      'method': method,
      'seed': seed,
      'best': result.progress.best_eval_top1_error,
      'final': errors[-1],
      'minutes': (time.time() - start) / 60,
      'epochs': epochs,
      'errors': errors,
      'workdir': workdir,
  }
  with open(os.path.join(workdir, RUN_FILE), 'w', encoding='utf-8') as f:
    json.dump(run, f)
  print(
      f'{method} seed {seed}: best {run["best"]:.2f}% final {run["final"]:.2f}% '
      f'({run["minutes"]:.1f} min)',
      flush=True,
  )


def progress_line(args, method: str, seed: int) -> str:
  """`method/seed: epoch E, eval top-1 X%` from the run's metrics so far."""
  try:
    epochs, errors = eval_curve(workdir_of(args, method, seed))
  except (OSError, ValueError):  # not started yet, or a line half written
    epochs, errors = [], []
  state = f'epoch {epochs[-1]}/{args.epochs} {errors[-1]:.2f}%' if epochs else 'starting'
  return f'{method}/{seed}: {state}'


def train_in_parallel(args, runs: list) -> None:
  """Trains `runs` in up to `args.jobs` child processes at once; prints progress every minute.

  Each child gets an equal share of the GPU memory (XLA_PYTHON_CLIENT_MEM_FRACTION) and logs to
  `WORKDIR/log.txt`. Raises RuntimeError naming the runs whose process failed.
  """
  env = dict(os.environ)
  env.setdefault('XLA_PYTHON_CLIENT_MEM_FRACTION', f'{0.9 / args.jobs:.3f}')
  waiting, running, failed = list(runs), {}, []
  while waiting or running:
    while waiting and len(running) < args.jobs:
      method, seed = waiting.pop(0)
      os.makedirs(workdir_of(args, method, seed), exist_ok=True)
      log = open(os.path.join(workdir_of(args, method, seed), 'log.txt'), 'w', encoding='utf-8')
      command = [
          sys.executable,
          os.path.abspath(__file__),
          *sys.argv[1:],
          '--only',
          f'{method}:{seed}',
      ]
      running[(method, seed)] = (
          subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT),
          log,
      )
    time.sleep(args.progress_seconds)
    for run, (process, log) in list(running.items()):
      if process.poll() is not None:
        log.close()
        del running[run]
        if process.returncode:
          failed.append(f'{run[0]}/{run[1]} (exit {process.returncode})')
    print(
        time.strftime('%H:%M:%S ') + '; '.join(progress_line(args, *run) for run in runs),
        flush=True,
    )
  if failed:
    raise RuntimeError(f'runs failed, see their log.txt: {", ".join(failed)}')


def parse_args():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument(
      '--preset',
      choices=list(PRESETS),
      help='settings for a machine; flags given as well override them',
  )
  parser.add_argument('--tarball', default='../shared/data/cifar10-jpeg-train.tar.gz')
  parser.add_argument('--out', default='runs/cifar10_study')
  parser.add_argument('--data-dir', default='/tmp', help='where the tarball is extracted')
  parser.add_argument('--model', default='resnet_cifar20')
  parser.add_argument('--dtype', default='float32')
  parser.add_argument('--epochs', type=int, default=80)
  parser.add_argument('--batch', type=int, default=128)
  parser.add_argument('--lr', type=float, default=0.1, help='lr at batch 64, scaled linearly')
  parser.add_argument(
      '--train-per-class',
      type=int,
      default=0,
      help='train on the first N images of each class (0: all but the held-out)',
  )
  parser.add_argument('--eval-every', type=int, default=1, help='evaluate every N epochs')
  parser.add_argument(
      '--cutmix-prob',
      type=float,
      default=0.5,
      help='probability that a batch is CutMixed (the paper: 0.5 on CIFAR)',
  )
  parser.add_argument('--methods', nargs='+', default=list(METHODS), choices=list(METHODS))
  parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1])
  parser.add_argument(
      '--single-seed-methods',
      nargs='*',
      default=['mixup', 'cutout', 'cutmix_feature'],
      help='methods run with the first seed only',
  )
  parser.add_argument(
      '--jobs', type=int, default=1, help='runs trained at once, each in its own process'
  )
  parser.add_argument(
      '--progress-seconds',
      type=float,
      default=60,
      help='with --jobs > 1: seconds between progress lines',
  )
  parser.add_argument(
      '--only',
      metavar='METHOD:SEED',
      help='train this one run and write its study_run.json (used by --jobs)',
  )
  parser.add_argument('--progress', action='store_true', help='tqdm bars')
  preset = parser.parse_known_args()[0].preset
  if preset:
    parser.set_defaults(**PRESETS[preset])
  return parser.parse_args()


def main():
  args = parse_args()
  root = extract(args.tarball, args.data_dir)
  if args.only:
    method, seed = args.only.split(':')
    train_one(args, root, method, int(seed))
    return
  os.makedirs(args.out, exist_ok=True)
  runs = planned_runs(args)
  if args.jobs > 1:
    train_in_parallel(args, runs)
  else:
    for method, seed in runs:
      train_one(args, root, method, seed)
  results = []
  for method, seed in runs:
    with open(os.path.join(workdir_of(args, method, seed), RUN_FILE), encoding='utf-8') as f:
      results.append(dict(json.load(f), workdir=workdir_of(args, method, seed)))
  table = summarize(results)
  print(table)
  with open(os.path.join(args.out, 'results.md'), 'w', encoding='utf-8') as f:
    f.write(table + '\n')
  with open(os.path.join(args.out, 'results.json'), 'w', encoding='utf-8') as f:
    json.dump({'args': vars(args), 'runs': results}, f, indent=2)
  plot(results, os.path.join(args.out, 'validation_error.png'))


if __name__ == '__main__':
  main()
