"""Times the jitted `cutmix` against its memory-traffic floor, the gather `images[perm]`.

CutMix must read every image and its partner and write the result; `images[perm]` does the
gather alone, so `cutmix / gather` says how close the op is to the floor (goal: <= 2 on CPU).

  python bench/mixing.py [--repeats 20]
"""
import argparse
import statistics
import time

import jax
import jax.numpy as jnp

import cutmix_jax as cm

SHAPES = ((256, 224, 224, 3), (128, 32, 32, 3))
DTYPES = ('float32', 'bfloat16')


def median_seconds(fn, args, repeats):
  """Median wall time of `fn(*args)` after one compile-and-warm-up call."""
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--repeats', type=int, default=20)
  parser.add_argument('--num-classes', type=int, default=1000)
  args = parser.parse_args()

  gather = jax.jit(lambda images, perm: images[perm])
  mix = jax.jit(lambda key, images, labels: cm.cutmix(key, images, labels))
  print(f'device: {jax.devices()[0].device_kind}, jax {jax.__version__}')
  print(f'{"shape":>20} {"dtype":>9} {"cutmix ms":>10} {"gather ms":>10} {"ratio":>6}')
  for shape in SHAPES:
    for dtype in DTYPES:
      images = jax.random.normal(jax.random.key(0), shape, dtype)
      labels = cm.one_hot(jnp.arange(shape[0]) % args.num_classes, args.num_classes)
      perm = jax.random.permutation(jax.random.key(1), shape[0])
      t_mix = median_seconds(mix, (jax.random.key(2), images, labels), args.repeats)
      t_gather = median_seconds(gather, (images, perm), args.repeats)
      print(f'{str(shape):>20} {dtype:>9} {t_mix * 1e3:10.3f} {t_gather * 1e3:10.3f} '
            f'{t_mix / t_gather:6.2f}')


if __name__ == '__main__':
  main()
