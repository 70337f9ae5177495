"""Times each jitted mixing op against its memory-traffic floor, and global against device partners.

A mixing op must read every image and its partner and write the result; `images[perm]` does the
gather alone, so `op / gather` says how close an op is to the floor (goal for CutMix: <= 2 on
CPU). The rows cover the CutMix family (`cutmix`, `fmix`, `resizemix`, `saliencymix`) and the
baselines (`mixup`, `cutout`).
The partner rows time `cutmix` under `pmap` over all local devices (run with
XLA_FLAGS=--xla_force_host_platform_device_count=8 on a CPU) with partners='global' (the batch is
gathered over the devices) against partners='device' (nothing moves between devices).

  python bench/mixing.py [--repeats 20]
"""

import argparse
import json
import time

import jax
import jax.numpy as jnp

import cutmix_jax as cm

# (batch shape, number of classes): an ImageNet batch and a CIFAR-10 batch.
SHAPES = (((256, 224, 224, 3), 1000), ((128, 32, 32, 3), 10))
DTYPES = ('float32', 'bfloat16')
OPS = {
    'cutmix': cm.cutmix,
    'fmix': cm.fmix,
    'resizemix': cm.resizemix,
    'saliencymix': cm.saliencymix,
    'mixup': cm.mixup,
    'cutout': lambda key, images, labels: cm.cutout(key, images, labels, size=16),
}


def best_seconds(fn, args, repeats):
  """Fastest wall time of `fn(*args)` over `repeats` calls after a compile-and-warm-up call.

  The minimum, not the median: on a shared machine the other load only ever adds time.
  """
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return min(times)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--repeats', type=int, default=20)
  parser.add_argument('--json', default='', help='also write the table here')
  parser.add_argument('--ops', nargs='+', default=list(OPS), choices=list(OPS))
  args = parser.parse_args()

  gather = jax.jit(lambda images, perm: images[perm])
  device = jax.devices()[0].device_kind
  print(f'device: {device}, jax {jax.__version__}')
  print(f'{"op":>12} {"shape":>20} {"dtype":>9} {"op ms":>9} {"gather ms":>10} {"ratio":>6}')
  rows = []
  for shape, num_classes in SHAPES:
    for dtype in DTYPES:
      images = jax.random.normal(jax.random.key(0), shape, dtype)
      labels = cm.one_hot(jnp.arange(shape[0]) % num_classes, num_classes)
      perm = jax.random.permutation(jax.random.key(1), shape[0])
      t_gather = best_seconds(gather, (images, perm), args.repeats)
      for name in args.ops:
        mix = jax.jit(lambda key, x, y, op=OPS[name]: op(key, x, y))
        t_mix = best_seconds(mix, (jax.random.key(2), images, labels), args.repeats)
        print(
            f'{name:>12} {str(shape):>20} {dtype:>9} {t_mix * 1e3:9.3f} {t_gather * 1e3:10.3f} '
            f'{t_mix / t_gather:6.2f}'
        )
        rows.append(
            {
                'op': name,
                'shape': list(shape),
                'num_classes': num_classes,
                'dtype': dtype,
                'op_ms': t_mix * 1e3,
                'gather_ms': t_gather * 1e3,
            }
        )
  partner_rows = time_partners(args.repeats)
  if args.json:
    with open(args.json, 'w', encoding='utf-8') as f:
      result = {
          'device': device,
          'software': f'jax {jax.__version__}',
          'rows': rows,
          'partners': partner_rows,
      }
      json.dump(result, f, indent=2)


def time_partners(repeats: int) -> list:
  """cutmix under pmap with global and with device partners, bfloat16, per batch shape."""
  devices = jax.local_device_count()
  print(f'\ncutmix under pmap over {devices} devices, bfloat16: partners global vs device')
  print(f'{"global batch":>20} {"global ms":>10} {"device ms":>10} {"ratio":>6}')
  rows = []
  for shape, num_classes in SHAPES:
    local = (devices, shape[0] // devices) + shape[1:]
    images = jax.random.normal(jax.random.key(0), local, jnp.bfloat16)
    labels = cm.one_hot(jnp.arange(shape[0]).reshape(local[:2]) % num_classes, num_classes)
    seconds = {}
    for partners in cm.PARTNERS:
      mix = jax.pmap(
          lambda k, x, y, p=partners: cm.cutmix(k, x, y, partners=p, axis_name='i'),
          axis_name='i',
          in_axes=(None, 0, 0),
      )
      seconds[partners] = best_seconds(mix, (jax.random.key(2), images, labels), repeats)
    ratio = seconds['global'] / seconds['device']
    print(
        f'{str(shape):>20} {seconds["global"] * 1e3:10.3f} {seconds["device"] * 1e3:10.3f} '
        f'{ratio:6.2f}'
    )
    rows.append(
        {
            'shape': list(shape),
            'devices': devices,
            'global_ms': seconds['global'] * 1e3,
            'device_ms': seconds['device'] * 1e3,
        }
    )
  return rows


if __name__ == '__main__':
  main()
