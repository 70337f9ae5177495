"""Times each jitted mixing op against its memory-traffic floor, and global against device partners.

A mixing op must read every image and its partner and write the result; `images[perm]` does the
gather alone, so `op / gather` says how close an op is to the floor (goal for CutMix: <= 2 on
CPU). The rows cover the CutMix family (`cutmix`, `fmix`, `resizemix`, `saliencymix`) and the
baselines (`mixup`, `cutout`).
The parts rows split one `cutmix` call into its draws (partners, lam, box: `cm.draw_cutmix`) and
its pixels (the select of a given box from given partners), next to the least any op that takes
pixels from a partner must do: read two batches and write one (the same select of two given
batches).
The partner rows time `cutmix` under `pmap` over all local devices (run with
XLA_FLAGS=--xla_force_host_platform_device_count=8 on a CPU) with partners='global' (the batch is
gathered over the devices) against partners='device' (nothing moves between devices).

  python bench/mixing.py [--repeats 20]
  python bench/mixing.py --programs   # only a hash of each op's compiled program, per shape
  python bench/mixing.py --eager      # each op called eagerly against under jax.jit

`--eager` times a call of each op on a CIFAR batch as a user's code makes it outside `jax.jit`
(JAX then runs the op primitive by primitive, each compiled on its first use) against the same
call under `jax.jit`: the first call (compiles included; in one process, in the order of `--ops`,
so an eager op reuses the primitives that an earlier one compiled) and the fastest later one.

`--programs` prints a hash of the optimized XLA program of each jitted op without its debug
tables (source lines): the same hash on two checkouts is the same program, so the same speed,
which no timing on a noisy machine can show as well.
"""

import argparse
import hashlib
import json
import re
import time

import jax
import jax.numpy as jnp

import cutmix_jax as cm
from cutmix_jax.ops import mask_mix

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


def best_seconds(fn, args, repeats, min_seconds=0.5):
  """Fastest wall time of `fn(*args)` over at least `repeats` calls and `min_seconds` of them,
  after a compile-and-warm-up call.

  The minimum, not the median: on a shared machine the other load only ever adds time; calls of
  a fraction of a millisecond repeat until `min_seconds` have passed (thousands of calls), so
  that their minimum is one without interruption.
  """
  jax.block_until_ready(fn(*args))
  times = []
  while len(times) < repeats or sum(times) < min_seconds:
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return min(times)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--repeats', type=int, default=20)
  parser.add_argument('--json', default='', help='also write the table here')
  parser.add_argument('--ops', nargs='+', default=list(OPS), choices=list(OPS))
  parser.add_argument('--programs', action='store_true', help='print program hashes only')
  parser.add_argument('--eager', action='store_true', help='eager calls against jitted ones')
  args = parser.parse_args()
  if args.programs:
    print_program_hashes(args.ops)
    return
  if args.eager:
    time_eager_against_jit(args.ops, args.repeats)
    return

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
  part_rows = time_cutmix_parts(args.repeats)
  partner_rows = time_partners(args.repeats)
  if args.json:
    with open(args.json, 'w', encoding='utf-8') as f:
      result = {
          'device': device,
          'software': f'jax {jax.__version__}',
          'rows': rows,
          'cutmix_parts': part_rows,
          'partners': partner_rows,
      }
      json.dump(result, f, indent=2)


def time_eager_against_jit(ops, repeats: int) -> None:
  """Prints the first and the fastest later call of each op, eager and jitted (float32 CIFAR)."""
  shape, num_classes = SHAPES[1]
  images = jax.random.normal(jax.random.key(0), shape)
  labels = cm.one_hot(jnp.arange(shape[0]) % num_classes, num_classes)
  print(f'{jax.devices()[0].device_kind}, jax {jax.__version__}, {shape} float32')
  print(f'{"op":>12} {"called":>7} {"first call s":>13} {"later call ms":>14}')
  for name in ops:
    for called in ('eager', 'jit'):
      op = OPS[name] if called == 'eager' else jax.jit(OPS[name])
      args = (jax.random.key(2), images, labels)
      start = time.perf_counter()
      jax.block_until_ready(op(*args))
      first = time.perf_counter() - start
      later = best_seconds(op, args, repeats)
      print(f'{name:>12} {called:>7} {first:13.2f} {later * 1e3:14.3f}')


def program_hash(fn, *args) -> str:
  """A hash of the optimized program of `jax.jit(fn)` for `args` (shapes), debug tables and
  source metadata left out."""
  text = jax.jit(fn).lower(*args).compile().as_text()
  text = text[text.index('\n%') :] if '\n%' in text else text
  text = re.sub(r', (metadata=\{[^}]*\}|stack_frame_id=\d+)', '', text)
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def print_program_hashes(ops) -> None:
  print(f'jax {jax.__version__}, {jax.devices()[0].device_kind}: program hash per op')
  for shape, num_classes in SHAPES:
    for dtype in DTYPES:
      images = jax.ShapeDtypeStruct(shape, jnp.dtype(dtype))
      labels = jax.ShapeDtypeStruct((shape[0], num_classes), jnp.float32)
      for name in ops:
        mix = lambda key, x, y, op=OPS[name]: op(key, x, y)
        digest = program_hash(mix, jax.random.key(0), images, labels)
        print(f'{name:>12} {str(shape):>20} {dtype:>9} {digest}')


def _select(mask, on_true, on_false):
  """cutmix's select of the pixels: `on_true` inside the `(H, W)` mask, `on_false` outside."""
  return mask_mix.select_pixels(mask_mix.broadcast_mask(mask, on_false), on_true, on_false)


def time_cutmix_parts(repeats: int) -> list:
  """One cutmix call, its draws alone, its pixels alone, and the two-batch select floor (ms)."""
  print('\ncutmix in parts (ms): whole call, draws, pixels; the select of two given batches')
  print(f'{"shape":>20} {"dtype":>9} {"whole":>8} {"draws":>8} {"pixels":>8} {"select":>8}')
  rows = []
  for shape, num_classes in SHAPES:
    height, width = shape[1:3]
    box = tuple(jnp.int32(edge) for edge in (height // 4, 3 * height // 4, width // 4, width // 2))
    mask = mask_mix.box_masks(box, height, width)
    for dtype in DTYPES:
      images = jax.random.normal(jax.random.key(0), shape, dtype)
      labels = cm.one_hot(jnp.arange(shape[0]) % num_classes, num_classes)
      pairing = cm.draw_partners(jax.random.key(1), images)
      key = jax.random.key(2)
      timed = {
          'whole': (jax.jit(lambda k, x, y: cm.cutmix(k, x, y)), (key, images, labels)),
          'draws': (jax.jit(lambda k, x: cm.draw_cutmix(k, x).box(height, width)), (key, images)),
          'pixels': (jax.jit(lambda b, x: _select(b, pairing.take(x), x)), (mask, images)),
          'select': (jax.jit(_select), (mask, -images, images)),
      }
      ms = {name: best_seconds(fn, fn_args, repeats) * 1e3 for name, (fn, fn_args) in timed.items()}
      print(
          f'{str(shape):>20} {dtype:>9} {ms["whole"]:8.3f} {ms["draws"]:8.3f} '
          f'{ms["pixels"]:8.3f} {ms["select"]:8.3f}'
      )
      rows.append({'shape': list(shape), 'dtype': dtype, **{f'{k}_ms': v for k, v in ms.items()}})
  return rows


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
