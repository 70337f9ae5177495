"""Bench-only check of DeiT's training pieces against timm's: random erasing, repeated
augmentation and the binary cross-entropy of DeiT III.

timm draws with Python's `random` and torch's generator, this project with `jax.random`, so the
draws cannot be the same; what is compared is what they produce over many images (the rate of
erased images, the quantiles of the rectangles' area and aspect ratio, the noise), the structure
of an epoch's order (how many distinct examples, copies per device), and the loss to float
precision on the same logits and targets. timm and torch live in an environment of their own;
the project never imports them.

  PYTHONPATH=. /tmp/timmenv/bin/python bench/timm_deit_pieces.py
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from timm.data import distributed_sampler
from timm.data import random_erasing as timm_erasing
from timm.loss import BinaryCrossEntropy
from timm.optim import Lamb
import torch

from cutmix_jax.data import layout as layout_lib
from cutmix_jax.data import random_erasing
from cutmix_jax.training import losses
from cutmix_jax.training import optim

IMAGES, SIDE = 20000, 32


def rectangles(erased: np.ndarray):
  """`(erased?, area fraction, height / width)` per image of a `(N, H, W)` changed-pixel mask."""
  hit = erased.any((1, 2))
  heights, widths = erased.any(2).sum(1), erased.any(1).sum(1)
  area = heights * widths / erased[0].size
  return hit, area[hit], heights[hit] / np.maximum(widths[hit], 1)


def erasing_rows():
  torch.manual_seed(0)
  eraser = timm_erasing.RandomErasing(0.25, mode='pixel', device='cpu')
  theirs = eraser(torch.full((IMAGES, 3, SIDE, SIDE), 100.0)).numpy()
  ours = np.asarray(
      random_erasing.random_erasing(
          jax.random.key(0), jnp.full((IMAGES, SIDE, SIDE, 3), 100.0), 0.25
      )
  )
  rows = {}
  for name, changed, values in (
      ('timm', (theirs != 100).any(1), theirs[theirs != 100]),
      ('ours', (ours != 100).any(-1), ours[ours != 100]),
  ):
    hit, area, aspect = rectangles(changed)
    rows[name] = [
        hit.mean(),
        *np.quantile(area, (0.1, 0.5, 0.9)),
        *np.quantile(aspect, (0.1, 0.5, 0.9)),
    ]
    rows[name] += [values.mean(), values.std()]
  return rows


def repeated_rows(num=1000, batch=128, devices=8, repeats=3):
  """Distinct examples in an epoch, examples per device per epoch, and how often two copies of
  one example share a device within a step."""
  layouts = [
      layout_lib.Layout(batch, batch, d, devices, 1, devices, repeats) for d in range(devices)
  ]
  ours = np.stack([layout_lib.train_indices(layout, 0, 0, num) for layout in layouts], 1)
  shared = np.mean([len(set(s[d])) < len(s[d]) for s in ours for d in range(devices)])
  rows = {'ours': [len(np.unique(ours)), ours.shape[0] * ours.shape[2], shared]}
  shards = []
  for rank in range(devices):
    sampler = distributed_sampler.RepeatAugSampler(
        range(num), num_replicas=devices, rank=rank, num_repeats=repeats, selected_round=batch
    )
    sampler.set_epoch(0)
    shards.append(list(sampler))
  per_rank = len(shards[0])
  steps = per_rank // (batch // devices)
  per_step = [np.array(s[: steps * (batch // devices)]).reshape(steps, -1) for s in shards]
  shared = np.mean([len(set(p[i])) < len(p[i]) for p in per_step for i in range(steps)])
  rows['timm'] = [len(set(sum(shards, []))), per_rank, shared]
  return rows


def bce_rows():
  rng = np.random.default_rng(0)
  logits = rng.normal(0, 3, (64, 1000)).astype(np.float32)
  targets = np.zeros((64, 1000), np.float32)
  lam = rng.uniform(0.2, 0.8, 64).astype(np.float32)
  targets[np.arange(64), rng.integers(0, 1000, 64)] += lam
  targets[np.arange(64), rng.integers(0, 1000, 64)] += 1 - lam
  x, t = torch.from_numpy(logits), torch.from_numpy(targets)
  rows = {}
  for name, threshold, reference in (
      ('soft targets', losses.SOFT_TARGETS, BinaryCrossEntropy(smoothing=0.0)(x, t)),
      ('threshold 0 (DeiT III)', 0.0, torch.nn.BCEWithLogitsLoss()(x, t.gt(0.0).float())),
      (
          'threshold 0.2 (timm)',
          0.2,
          BinaryCrossEntropy(smoothing=0.0, target_threshold=0.2)(x, t),
      ),
  ):
    ours = float(losses.binary_cross_entropy(logits, targets, threshold).mean())
    rows[name] = (float(reference), ours)
  return rows


def lamb_rows(steps=5, lr=4e-3, wd=0.03):
  """Parameters after `steps` LAMB steps on the same gradients: timm's `Lamb` (apex FusedLAMB's
  arithmetic: grad clipping at 1, trust ratio only in the decayed group) against ours."""
  rng = np.random.default_rng(0)
  start = {'kernel': rng.normal(0, 0.5, (16, 8)), 'bias': rng.normal(0, 0.5, (8,))}
  grads = [{k: rng.normal(0, 2, v.shape) for k, v in start.items()} for _ in range(steps)]
  tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in start.items()}
  groups = [
      {'params': [tensors['kernel']], 'weight_decay': wd},
      {'params': [tensors['bias']], 'weight_decay': 0.0},
  ]
  theirs = Lamb(groups, lr=lr, eps=1e-6, max_grad_norm=1.0)
  config = optim.OptimizerConfig(name='lamb', learning_rate=lr, weight_decay=wd)
  ours_tx = optim.make_optimizer(config, optax.constant_schedule(lr))
  params = {k: jnp.asarray(v, jnp.float32) for k, v in start.items()}
  state = ours_tx.init(params)
  for grad in grads:
    for name, tensor in tensors.items():
      tensor.grad = torch.tensor(grad[name], dtype=torch.float64)
    theirs.step()
    updates, state = ours_tx.update(
        {k: jnp.asarray(v, jnp.float32) for k, v in grad.items()}, state, params
    )
    params = optax.apply_updates(params, updates)
  return {
      name: (
          np.abs(np.asarray(params[name]) - tensor.detach().numpy()).max(),
          np.abs(tensor.detach().numpy() - start[name]).max(),
      )
      for name, tensor in tensors.items()
  }


def main():
  print(f'Random erasing, p 0.25, {IMAGES} images of {SIDE}x{SIDE} (timm mode "pixel"):')
  header = 'erased  area q10  q50    q90    aspect q10  q50    q90    noise mean  std'
  print(f'{"":6}{header}')
  for name, row in erasing_rows().items():
    print(f'{name:6}' + '  '.join(f'{v:6.3f}' for v in row))
  print('\nRepeated augmentation, 1000 examples, batch 128 on 8 devices, 3 repeats:')
  print(f'{"":6}distinct  per device  steps with a copy twice on one device')
  for name, (distinct, per_device, shared) in repeated_rows().items():
    print(f'{name:6}{distinct:8d}  {per_device:10d}  {shared:.3f}')
  print('\nBinary cross-entropy, 64 mixed targets over 1000 classes (batch mean):')
  for name, (reference, ours) in bce_rows().items():
    print(f'  {name:24} timm/torch {reference:.7f}  ours {ours:.7f}  diff {ours - reference:+.1e}')
  print('\nLAMB, 5 steps at lr 4e-3, wd 0.03 on a 16x8 kernel (decayed) and a bias (not):')
  for name, (gap, moved) in lamb_rows().items():
    print(f'  {name:7} max |timm - ours| {gap:.1e}  (moved by up to {moved:.1e})')


if __name__ == '__main__':
  main()
