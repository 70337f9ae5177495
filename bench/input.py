"""Large-image input pipelines side by side, in images/s per core, on a generated folder.

The benchmark folder: `--images` (6,000, so that the timed batches stay in one epoch) mosaics of
16 x 12 real CIFAR-10 images (the built-in `cifar10_mini` set), 512 x 384, JPEG quality 90 (about
80 KB, near ImageNet's mean file size), built deterministically in `--dir`, 10 classes. Rows,
each the train batches of 224 px (RandomResizedCrop and flip, uint8 out):

- bare decode: PIL's full decode of each file on one thread, the floor of any JPEG pipeline;
- tf.data (`data.pipeline=tf`);
- Grain with threads of the process, and with 1 and 2 worker processes (`data.workers`);
- torchvision's ImageFolder + DataLoader with the same transforms, when torch is installed.

"Per core" is images per CPU-second of the process and its children (psutil), so a pipeline on
both cores is not counted twice; "cores / H100" is what 5,678 img/s (a plain Flax ResNet-50 step
on one H100) would need at that rate. Then the cost of each part of Grain's per-image work, one
thread, and the mean absolute difference between Grain's and tf.data's eval images (the same
centre crop; the decoders and resizers differ).

  python bench/input.py [--images 6000] [--batch 64] [--steps 60] [--dir /tmp/cutmix_input]
"""

import argparse
import io
import os
import time

import numpy as np
from PIL import Image
import psutil

from cutmix_jax import data
from cutmix_jax.data import cifar10_mini
from cutmix_jax.data import pil_preprocess

H100_RATE = 5678.0  # img/s of a plain Flax ResNet-50 train step on one H100 (docs/PERFORMANCE.md)
GRID = (12, 16)  # rows, columns of 32 px images: 384 x 512


def build_folder(root: str, count: int) -> None:
  """`root/train/c<k>/<i>.jpg`: `count` mosaics of the built-in CIFAR-10 images (idempotent)."""
  marker = os.path.join(root, f'.complete-{count}')
  if os.path.exists(marker):
    return
  images, _ = cifar10_mini.read_archive()['eval']
  rng = np.random.default_rng(0)
  for i in range(count):
    tiles = images[rng.integers(0, len(images), GRID[0] * GRID[1])]
    mosaic = tiles.reshape(GRID[0], GRID[1], 32, 32, 3).transpose(0, 2, 1, 3, 4)
    class_dir = os.path.join(root, 'train', f'c{i % 10}')
    os.makedirs(class_dir, exist_ok=True)
    Image.fromarray(mosaic.reshape(GRID[0] * 32, GRID[1] * 32, 3)).save(
        os.path.join(class_dir, f'{i}.jpg'), quality=90
    )
  open(marker, 'w').close()


def cpu_seconds() -> float:
  """CPU time of this process and its live children so far."""
  me = psutil.Process()
  total = sum(me.cpu_times()[:2])
  for child in me.children(recursive=True):
    try:
      total += sum(child.cpu_times()[:2])
    except psutil.Error:
      pass
  return total


def measure(batches, count: int, images_per_batch: int, warm_up: int):
  """`(images/s, images per CPU-second)` over `count` batches after `warm_up` batches (which
  also fill the read-ahead buffers, so that the timed ones are made while timed)."""
  for _ in range(warm_up):
    next(batches)
  wall, cpu = time.perf_counter(), cpu_seconds()
  for _ in range(count):
    next(batches)
  cpu = cpu_seconds() - cpu  # before the iterator (and its workers) ends
  wall = time.perf_counter() - wall
  images = count * images_per_batch
  return images / wall, images / cpu


def bare_decode(paths):
  def decode_all():
    for path in paths:
      with Image.open(path) as image:
        image.convert('RGB').load()

  return decode_all


def dataset(root, batch, **fields):
  config = data.DataConfig(source=f'folder:{root}', holdout_per_class=10, image_size=224, **fields)
  return data.load_dataset(config, batch_size=batch, eval_batch_size=batch, seed=0)


def torch_batches(root, batch, workers):
  """torchvision's ImageFolder + DataLoader, RandomResizedCrop(224) and flip, uint8 tensors."""
  import torch  # pylint: disable=import-outside-toplevel
  from torchvision import datasets  # pylint: disable=import-outside-toplevel
  from torchvision.transforms import v2  # pylint: disable=import-outside-toplevel

  transform = v2.Compose([v2.PILToTensor(), v2.RandomResizedCrop(224), v2.RandomHorizontalFlip()])
  folder = datasets.ImageFolder(os.path.join(root, 'train'), transform=transform)
  loader = torch.utils.data.DataLoader(folder, batch, shuffle=True, num_workers=workers)
  while True:
    yield from loader


def parts(paths, image_size: int):
  """ms per image of each part of Grain's train image, one thread."""
  rng = np.random.default_rng(0)
  blobs = []
  start = time.perf_counter()
  for path in paths:
    with open(path, 'rb') as f:
      blobs.append(f.read())
  timings = {'read': time.perf_counter() - start}
  start = time.perf_counter()
  for blob in blobs:
    with Image.open(io.BytesIO(blob)) as image:
      image.convert('RGB').load()
  timings['full decode'] = time.perf_counter() - start
  start = time.perf_counter()
  for path, blob in zip(paths, blobs):
    pil_preprocess.train_image(path, rng, image_size, data=blob)
  timings['train_image (window, decode, resize, flip)'] = time.perf_counter() - start
  return {name: 1000 * seconds / len(paths) for name, seconds in timings.items()}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--images', type=int, default=6000)
  parser.add_argument('--batch', type=int, default=64)
  parser.add_argument('--steps', type=int, default=60, help='timed batches per pipeline')
  parser.add_argument('--warm_up', type=int, default=10, help='batches before the timed ones')
  parser.add_argument('--dir', default='/tmp/cutmix_input')
  args = parser.parse_args()
  build_folder(args.dir, args.images)
  paths = sorted(
      os.path.join(d, f) for d, _, fs in os.walk(os.path.join(args.dir, 'train')) for f in fs
  )
  mean_kb = np.mean([os.path.getsize(p) for p in paths]) / 1024
  print(f'{len(paths)} JPEGs of 512 x 384, {mean_kb:.0f} KB on average; {os.cpu_count()} cores')
  rows = []
  sample = paths[: args.batch * args.steps]
  start, cpu = time.perf_counter(), cpu_seconds()
  bare_decode(sample)()
  rows.append(('bare full decode (PIL, 1 thread)', len(sample) / (time.perf_counter() - start),
               len(sample) / (cpu_seconds() - cpu)))  # fmt: skip
  for label, fields in (
      ('tf.data (pipeline=tf)', dict(pipeline='tf')),
      ('Grain, threads', dict(pipeline='grain', workers=0)),
      ('Grain, 1 worker', dict(pipeline='grain', workers=1)),
      ('Grain, 2 workers', dict(pipeline='grain', workers=2)),
  ):
    ds = dataset(args.dir, args.batch, **fields)
    rows.append((label, *measure(iter(ds.train_batches()), args.steps, args.batch, args.warm_up)))
  try:
    rows.append(
        ('torchvision DataLoader, 2 workers',
         *measure(torch_batches(args.dir, args.batch, 2), args.steps, args.batch, args.warm_up))
    )  # fmt: skip
  except ImportError:
    print('(torch or torchvision is not installed: no PyTorch row)')
  floor = rows[0][2]
  print(f'{"pipeline":36s} {"img/s":>8s} {"img/s/core":>10s} {"of bare":>8s} {"cores/H100":>10s}')
  for label, rate, per_core in rows:
    print(
        f'{label:36s} {rate:8.0f} {per_core:10.0f} {per_core / floor:8.2f} '
        f'{H100_RATE / per_core:10.1f}'
    )
  print('\nGrain per image, one thread (ms):')
  for name, ms in parts(paths[:200], 224).items():
    print(f'  {name:44s} {ms:6.2f}')
  grain_eval = next(dataset(args.dir, args.batch, pipeline='grain').eval_batches())
  tf_eval = next(dataset(args.dir, args.batch, pipeline='tf').eval_batches())
  mask = grain_eval['mask']
  gap = np.abs(grain_eval['image'][mask].astype(np.int16) - tf_eval['image'][mask].astype(np.int16))
  print(f'\neval images, Grain against tf.data: mean absolute difference {gap.mean():.2f} / 255')


if __name__ == '__main__':
  main()
