"""Bench-only check of `cutmix_jax.data.rand_augment` against timm's RandAugment ops on PIL.

For every op of timm's `_RAND_INCREASING_TRANSFORMS` (and the plain Posterize, Solarize and
enhance levels of `_RAND_TRANSFORMS`), runs timm's `AugmentOp` (prob 1, magnitude_std 0, DeiT's
hparams: fill colour, fixed interpolation) and ours on the same images at several magnitudes and
both signs, and prints the max and mean |timm - ours| per op; then checks our level-to-argument
functions against timm's `LEVEL_TO_ARG` over a grid of magnitudes. Python's `random` is seeded
before each timm call, so the sign timm draws is known. timm and torch live in an environment
of their own; the project never imports them.

  PYTHONPATH=. /tmp/timmenv/bin/python bench/timm_rand_augment.py
"""

import random

import jax
import jax.numpy as jnp
import numpy as np
import PIL
from PIL import Image
import timm
from timm.data import auto_augment

from cutmix_jax.data import rand_augment as ra

FILL = (124, 116, 104)  # DeiT: round(255 * ImageNet mean)
MAGNITUDES = (0.0, 2.5, 5.0, 7.3, 9.0, 10.0)
INTERPOLATIONS = {'nearest': Image.NEAREST, 'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC}
EXTRA_OPS = ('Posterize', 'Solarize', 'Color', 'Contrast', 'Brightness', 'Sharpness')


def test_images() -> list:
  """uint8 images `(H, W, 3)`: noise and a smooth picture at DeiT's 224, and an odd-sized one."""
  rng = np.random.default_rng(0)
  noise = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
  y, x = np.mgrid[0:224, 0:224]
  waves = 40 * np.sin(x / 9.0) * np.cos(y / 13.0)
  picture = np.stack([x, y, (x + y) // 2], -1) + waves[..., None]
  picture = np.clip(picture * 0.8 + 20, 0, 255).astype(np.uint8)
  return [noise, picture, rng.integers(30, 200, (37, 50, 3), dtype=np.uint8)]


def seed_for(negate: bool) -> int:
  """A seed after which Python's first `random.random()` makes timm negate (> 0.5) or not."""
  return next(s for s in range(100) if (random.Random(s).random() > 0.5) == negate)


def timm_result(name, image, magnitude, negate, interpolation):
  """timm's op at `magnitude`, prob 1, on a PIL image; None where timm raises."""
  hparams = {'img_mean': FILL, 'interpolation': INTERPOLATIONS[interpolation]}
  magnitude = float(np.float32(magnitude))  # the value ours gets
  op = auto_augment.AugmentOp(name, prob=1.0, magnitude=magnitude, hparams=hparams)
  random.seed(seed_for(negate))
  try:
    return np.asarray(op(Image.fromarray(image)))
  except ValueError:  # Pillow 13's posterize rejects 0 bits
    return None


def ours(op, interpolation):
  """Our op at (magnitude, sign) on one image, compiled once per op and interpolation."""
  apply = lambda image, magnitude, sign: ra.apply_op(
      op, image, None if op.level is None else op.level(magnitude, sign),
      fill=FILL, interpolation=interpolation,
  )  # fmt: skip
  return jax.jit(apply)


def compare_op(name, op, images, interpolation):
  """Max and mean |timm - ours| over images, magnitudes and signs; cases where timm raised."""
  apply = ours(op, interpolation)
  diffs, raised = [], []
  for image in images:
    for magnitude in MAGNITUDES:
      for negate in (False, True):
        want = timm_result(name, image, magnitude, negate, interpolation)
        got = np.asarray(apply(jnp.asarray(image), magnitude, -1.0 if negate else 1.0))
        if want is None:
          raised.append((magnitude, got.max()))
          continue
        diffs.append(np.abs(want.astype(np.int32) - got).ravel())
  diff = np.concatenate(diffs)
  return diff.max(), diff.mean(), (diff > 0).mean(), raised


def pixel_table(images):
  print(f'{"op":22s} {"interpolation":13s} {"max":>4s} {"mean":>8s} {"differ":>8s}  note')
  names = list(ra.INCREASING_OPS) + list(EXTRA_OPS)
  for name in names:
    op = {**ra.OPS, **ra.INCREASING_OPS}[name]
    for interpolation in INTERPOLATIONS if op.kind == 'affine' else ('bicubic',):
      top, mean, differ, raised = compare_op(name, op, images, interpolation)
      note = ''
      if raised:
        blacks = all(value == 0 for _, value in raised)
        note = f'timm raised at m={sorted({m for m, _ in raised})}; ours black: {blacks}'
      shown = interpolation if op.kind == 'affine' else '-'
      print(f'{name:22s} {shown:13s} {top:4d} {mean:8.5f} {differ:8.5f}  {note}')


def level_table():
  """Our float32 level functions against timm's float64 ones on a grid of magnitudes."""
  grids = (
      np.arange(0, 121) / 8,  # binary-short magnitudes, 0 to 15: integers, halves, eighths
      np.arange(0, 1001) / 100,  # 0.00 to 10.00
      np.random.default_rng(1).uniform(0, 10, 1000),
  )
  print("\nlevel to argument: ours equal to timm's (float: to its float32), max relative diff")
  header = ('m = k/8', 'm = k/100', 'random m')
  print(f'{"level":22s} {"kind":6s} ' + ' '.join(f'{h:>10s}' for h in header) + '   max rel')
  for name, op in {**ra.OPS, **ra.INCREASING_OPS}.items():
    if op.level is None:
      continue
    level = jax.jit(op.level)  # as rand_augment computes it
    counts = []
    worst = 0.0
    for magnitudes in grids:
      equal = 0
      for magnitude in np.float32(magnitudes):
        for negate in (False, True):
          random.seed(seed_for(negate))
          (want,) = auto_augment.LEVEL_TO_ARG[name](float(magnitude), {})
          got = np.asarray(level(magnitude, -1.0 if negate else 1.0)).item()
          equal += got == (want if isinstance(got, int) else float(np.float32(want)))
          worst = max(worst, abs(got - want) / max(abs(want), 1e-12))
      counts.append(f'{equal}/{2 * len(magnitudes)}')
    kind = 'int' if np.issubdtype(np.asarray(op.level(1.0, 1.0)).dtype, np.integer) else 'float'
    print(f'{name:22s} {kind:6s} {counts[0]:>10s} {counts[1]:>10s} {counts[2]:>10s} {worst:9.1e}')


def main():
  print(f'timm {timm.__version__}, Pillow {PIL.__version__}, jax {jax.__version__}')
  print('images: 224x224 noise, 224x224 smooth picture, 37x50 noise; magnitudes', MAGNITUDES)
  print('|timm - ours| over all pixels, magnitudes and both signs:\n')
  pixel_table(test_images())
  level_table()


if __name__ == '__main__':
  main()
