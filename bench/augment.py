"""What DeiT's and DeiT III's train augmentations cost on the device, per batch.

Times `train_augment.train_preprocess` (jitted, on the default device) on uint8 224 x 224 batches
with each extra alone and DeiT's and DeiT III's together, beside the plain normalization, in
alternating rounds; prints img/s and the change against the plain one. Where timm is importable
(its own environment), also times timm's `rand-m9-mstd0.5-inc1` on PIL images on one host core,
the work this replaces in a PyTorch DataLoader.

  python bench/augment.py --batch 64 --rounds 5
  PYTHONPATH=. /tmp/timmenv/bin/python bench/augment.py    # with timm's row
"""

import argparse
import time

from common import print_method_table
import jax
import numpy as np

from cutmix_jax.data import augment
from cutmix_jax.data import rand_augment
from cutmix_jax.data import train_augment

DEIT = rand_augment.parse('rand-m9-mstd0.5-inc1')
SETTINGS = {
    'normalize only': train_augment.TrainAugment(),
    'random erasing': train_augment.TrainAugment(random_erasing=0.25),
    'RandAugment': train_augment.TrainAugment(rand_augment=DEIT, interpolation='bicubic'),
    '3-Augment': train_augment.TrainAugment(three_augment=True),
    'DeiT (RA + RE)': train_augment.TrainAugment(DEIT, False, 0.25, 'bicubic'),
}


def device_seconds(batch: int, side: int, rounds: int, steps: int) -> dict:
  """Per-batch seconds of each `SETTINGS` entry, `rounds` alternating rounds of `steps` calls."""
  images = jax.device_put(
      np.random.default_rng(0).integers(0, 256, (batch, side, side, 3), np.uint8)
  )
  stats = (augment.IMAGENET_MEAN, augment.IMAGENET_STD)
  functions = {
      name: jax.jit(
          lambda key, x, extras=extras: train_augment.train_preprocess(
              key, x, mean=stats[0], std=stats[1], pad=0, extras=extras
          )
      )
      for name, extras in SETTINGS.items()
  }
  for function in functions.values():  # compile
    function(jax.random.key(0), images).block_until_ready()
  seconds = {name: [] for name in functions}
  for round_index in range(rounds):
    for name, function in functions.items():
      start = time.perf_counter()
      for step in range(steps):
        out = function(jax.random.key(round_index * steps + step), images)
      out.block_until_ready()
      seconds[name].append((time.perf_counter() - start) / steps)
  return seconds


def timm_seconds_per_image(side: int, count: int):
  """timm's DeiT RandAugment on `count` PIL images on this host core, seconds per image; None
  without timm."""
  try:
    from PIL import Image  # pylint: disable=g-import-not-at-top
    from timm.data import auto_augment  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  hparams = {'translate_const': int(side * 0.45), 'img_mean': (124, 116, 104)}
  transform = auto_augment.rand_augment_transform('rand-m9-mstd0.5-inc1', hparams)
  rng = np.random.default_rng(0)
  images = [Image.fromarray(rng.integers(0, 256, (side, side, 3), np.uint8)) for _ in range(count)]
  start = time.perf_counter()
  for image in images:
    try:
      transform(image)
    except ValueError:  # Pillow 13's posterize to 0 bits (bench/timm_rand_augment.py)
      pass
  return (time.perf_counter() - start) / count


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--batch', type=int, default=64)
  parser.add_argument('--side', type=int, default=224)
  parser.add_argument('--rounds', type=int, default=5)
  parser.add_argument('--steps', type=int, default=3)
  parser.add_argument('--json', default='', help='also write the rows to this JSON file')
  args = parser.parse_args()
  device = jax.devices()[0].device_kind
  print(f'{device}: batch {args.batch} of {args.side} px')
  seconds = device_seconds(args.batch, args.side, args.rounds, args.steps)
  print_method_table(args.batch, seconds, args.json, device=device, side=args.side)
  per_image = timm_seconds_per_image(args.side, 4 * args.batch)
  if per_image is None:
    print('timm is not importable here: no PIL row')
  else:
    print(f'timm rand-m9-mstd0.5-inc1 on PIL, one host core: {1 / per_image:9.1f} img/s')


if __name__ == '__main__':
  main()
