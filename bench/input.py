"""Large-image input pipelines side by side, in images/s per core, on a generated folder.

The benchmark folder: `--images` (6,000, so that the timed batches stay in one epoch) mosaics of
16 x 12 real CIFAR-10 images (the built-in `cifar10_mini` set), 512 x 384, JPEG quality 90 (about
80 KB, near ImageNet's mean file size), built deterministically in `--dir`, 10 classes. Rows,
each the train batches of 224 px (RandomResizedCrop and flip, uint8 out):

- bare decode: the full decode of each file on one thread, by PIL and by simplejpeg (the Grain
  pipeline's whole-image decoder), the floor of any JPEG pipeline that decodes whole images;
- tf.data (`data.pipeline=tf`);
- Grain with threads of the process, and with 1 and 2 worker processes (`data.workers`); with
  threads again but decoding whole images (as where TurboJPEG 3, `jpeg_window`, is absent);
- torchvision's ImageFolder + DataLoader with the same transforms, when torch is installed.

"Per core" is images per CPU-second of the process and its children (psutil), so a pipeline on
both cores is not counted twice; "cores / H100" is what 5,678 img/s (a plain Flax ResNet-50 step
on one H100) would need at that rate. Then the cost of each part of Grain's per-image work, one
thread (with the decode's floor: the entropy decoding of the whole file, which a window's decode
cannot skip), the CPU cost of moving the batches to the devices as the train loop does, and two
mean absolute pixel differences on the eval images: Grain's against tf.data's (the same centre
crop; the resizers differ), and Grain's DCT-reduced decode against a full decode (at 112 px,
where the eval window, 336 px, is twice the output side).

  python bench/input.py [--images 6000] [--batch 64] [--steps 60] [--repeats 3]
                        [--dir /tmp/cutmix_input]
"""

import argparse
import os
import subprocess
import sys
import time

import jax
import numpy as np
from PIL import Image
import psutil
import simplejpeg

from cutmix_jax import data
from cutmix_jax.data import cifar10_mini
from cutmix_jax.data import host_preprocess
from cutmix_jax.data import jpeg_window
from cutmix_jax.training import devices as cutmix_devices

H100_RATE = 5678.0  # img/s of a plain Flax ResNet-50 train step on one H100 (docs/PERFORMANCE.md)
GRID = (12, 16)  # rows, columns of 32 px images: 384 x 512
FLOOR = '(entropy decoding alone: the last row)'  # the part no window decode skips


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


def bare_decodes(paths):
  """`{decoder: function}` that fully decodes every file of `paths` to RGB, one thread."""

  def pil():
    for path in paths:
      with Image.open(path) as image:
        image.convert('RGB').load()

  def simplejpeg_():
    for path in paths:
      with open(path, 'rb') as f:
        simplejpeg.decode_jpeg(f.read())

  return {'PIL': pil, 'simplejpeg': simplejpeg_}


def dataset(root, batch, **fields):
  config = data.DataConfig(source=f'folder:{root}', holdout_per_class=10, image_size=224, **fields)
  return data.load_dataset(config, batch_size=batch, eval_batch_size=batch, seed=0)


def torch_batches(root, batch, workers):
  """torchvision's ImageFolder + DataLoader: RandomResizedCrop(224) and flip on the PIL image
  (as the official CutMix code), then uint8 tensors."""
  import torch  # pylint: disable=import-outside-toplevel
  from torchvision import datasets  # pylint: disable=import-outside-toplevel
  from torchvision.transforms import v2  # pylint: disable=import-outside-toplevel

  transform = v2.Compose([v2.RandomResizedCrop(224), v2.RandomHorizontalFlip(), v2.PILToTensor()])
  folder = datasets.ImageFolder(os.path.join(root, 'train'), transform=transform)
  loader = torch.utils.data.DataLoader(folder, batch, shuffle=True, num_workers=workers)
  while True:
    yield from loader


def parts(paths, image_size: int):
  """ms per image of each part of Grain's train image, one thread, image after image (as the
  pipeline runs: each image's buffers are freed before the next)."""
  rng = np.random.default_rng(0)
  timings = dict.fromkeys(['read', 'header, window', 'decode', 'to PIL', 'resize', 'flip',
                           'to NumPy', 'into the batch', FLOOR], 0.0)  # fmt: skip
  batch = np.empty((64, image_size, image_size, 3), np.uint8)
  last = GRID[0] * 32 - 1  # the last pixel row: every block entropy-decoded, one row's IDCT

  def timed(name, function, *args):
    start = time.thread_time()
    out = function(*args)
    timings[name] += time.thread_time() - start
    return out

  def read(path):
    with open(path, 'rb') as f:
      return f.read()

  def window(blob):
    height, width = simplejpeg.decode_jpeg_header(blob)[:2]
    return host_preprocess.random_resized_window(height, width, rng), rng.uniform() < 0.5

  def decode(blob, y, x, h, w):
    pixels = jpeg_window.decode(blob, y, x, y + h, x + w, 1)
    return simplejpeg.decode_jpeg(blob)[y : y + h, x : x + w] if pixels is None else pixels

  for i, path in enumerate(paths):
    blob = timed('read', read, path)
    (y, x, h, w), flip = timed('header, window', window, blob)
    pixels = timed('decode', decode, blob, y, x, h, w)
    timed(FLOOR, jpeg_window.decode, blob, last, 0, last + 1, 8, 1)
    image = timed('to PIL', lambda: Image.fromarray(np.ascontiguousarray(pixels)))
    image = timed('resize', image.resize, (image_size, image_size), Image.Resampling.BILINEAR)
    if flip:
      image = timed('flip', image.transpose, Image.Transpose.FLIP_LEFT_RIGHT)
    timed('into the batch', batch.__setitem__, i % len(batch), timed('to NumPy', np.asarray, image))
  start = time.thread_time()
  for i, path in enumerate(paths):
    host_preprocess.train_image(path, np.random.default_rng(i), image_size)
  timings['train_image, all of it'] = time.thread_time() - start
  return {name: 1000 * seconds / len(paths) for name, seconds in timings.items()}


def transfer(batch: int, image_size: int, count: int = 20) -> float:
  """ms of CPU per image to move train batches to the devices, as the train loop does
  (`devices.prefetched` with the default placement: global arrays from the host's share)."""
  shape = (batch, image_size, image_size, 3)
  batches = [{'image': np.full(shape, i, np.uint8)} for i in range(count + 2)]
  moved = cutmix_devices.prefetched(cutmix_devices.placement(), iter(batches))
  next(moved)['image'].block_until_ready()  # compiled, buffers made
  start = time.process_time()
  for placed in moved:
    placed['image'].block_until_ready()
  return 1000 * (time.process_time() - start) / ((count + 1) * batch)


def reduction_gap(paths, image_size: int) -> float:
  """Mean absolute difference of Grain's eval images (a window twice `image_size`: decoded at
  half scale) and torchvision's crop and resize of the full decode."""
  gaps = []
  for path in paths:
    with Image.open(path) as image:
      y, x, h, w = host_preprocess.centre_window(image.height, image.width)
      full = image.convert('RGB').crop((x, y, x + w, y + h))
      full = np.asarray(full.resize((image_size, image_size), Image.BILINEAR), np.int16)
    gaps.append(np.abs(host_preprocess.eval_image(path, image_size).astype(np.int16) - full).mean())
  return float(np.mean(gaps))


def eval_gap(first, second) -> float:
  """Mean absolute difference of the real eval images of two datasets' first batches."""
  a, b = next(first.eval_batches()), next(second.eval_batches())
  mask = a['mask']
  return np.abs(a['image'][mask].astype(np.int16) - b['image'][mask].astype(np.int16)).mean()


ROWS = {  # label: what it measures (a bare decoder, the torchvision loader, or DataConfig fields)
    'bare full decode (PIL, 1 thread)': 'PIL',
    'bare full decode (simplejpeg, 1 thread)': 'simplejpeg',
    'tf.data (pipeline=tf)': dict(pipeline='tf'),
    'Grain, threads': dict(pipeline='grain', workers=0),
    'Grain, threads, whole-image decode': 'whole-image',  # without jpeg_window's window decode
    'Grain, 1 worker': dict(pipeline='grain', workers=1),
    'Grain, 2 workers': dict(pipeline='grain', workers=2),
    'torchvision DataLoader, 2 workers': 'torchvision',
}


def measure_row(label, args, paths):
  """`(images/s, images per CPU-second)` of one row of ROWS; () without torch for its row. Each
  row runs in a process of its own: no threads of an earlier pipeline run beside it, and torch
  cannot load beside TensorFlow (a segmentation fault)."""
  spec = ROWS[label]
  if spec in ('PIL', 'simplejpeg'):
    sample = paths[: args.batch * args.steps]
    decode_all = bare_decodes(sample)[spec]
    start, cpu = time.perf_counter(), cpu_seconds()
    decode_all()
    return len(sample) / (time.perf_counter() - start), len(sample) / (cpu_seconds() - cpu)
  if spec == 'whole-image':
    jpeg_window.library = lambda: None  # this row's process decodes every image whole
    spec = ROWS['Grain, threads']
  if spec == 'torchvision':
    try:
      batches = torch_batches(args.dir, args.batch, 2)
      next(batches)
    except ImportError:
      return ()
  else:
    batches = iter(dataset(args.dir, args.batch, **spec).train_batches())
  return measure(batches, args.steps, args.batch, args.warm_up)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--images', type=int, default=6000)
  parser.add_argument('--batch', type=int, default=64)
  parser.add_argument('--steps', type=int, default=60, help='timed batches per pipeline')
  parser.add_argument('--warm_up', type=int, default=10, help='batches before the timed ones')
  parser.add_argument('--dir', default='/tmp/cutmix_input')
  parser.add_argument('--repeats', type=int, default=3, help='runs of each row, in turn')
  parser.add_argument('--row', choices=ROWS, help='measure this row only (in its own process)')
  args = parser.parse_args()
  build_folder(args.dir, args.images)
  paths = sorted(
      os.path.join(d, f) for d, _, fs in os.walk(os.path.join(args.dir, 'train')) for f in fs
  )
  if args.row:
    print(*measure_row(args.row, args, paths))
    return
  mean_kb = np.mean([os.path.getsize(p) for p in paths]) / 1024
  print(f'{len(paths)} JPEGs of 512 x 384, {mean_kb:.0f} KB on average; {os.cpu_count()} cores')
  library = jpeg_window.library()
  print(f'window decode (TurboJPEG 3): {library._name if library else "none: whole images decode"}')
  figures = {label: [] for label in ROWS}
  for _ in range(args.repeats):  # the rows in turn, so that a slow spell of the machine is shared
    for label in ROWS:
      command = [sys.executable, __file__, '--row', label, '--dir', args.dir]
      command += [
          f'--{name}={getattr(args, name)}' for name in ('images', 'batch', 'steps', 'warm_up')
      ]
      result = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
      if result:
        figures[label].append(tuple(map(float, result[-2:])))
  rows = []
  for label, measured in figures.items():
    if not measured:
      print(f'({label}: torch or torchvision is not installed)')
      continue
    rates, per_core = np.array(measured).T
    rows.append((label, np.median(rates), np.median(per_core), per_core.min(), per_core.max()))
  floors = rows[0][2], rows[1][2]
  print(f'medians of {args.repeats} runs; per core: median (min-max)')
  print(f'{"pipeline":40s} {"img/s":>6s} {"img/s/core":>17s} {"of bare PIL":>11s} '
        f'{"of simplejpeg":>13s} {"of tf.data":>10s} {"cores/H100":>10s}')  # fmt: skip
  tf_rate = dict((row[0], row[2]) for row in rows)['tf.data (pipeline=tf)']
  for label, rate, per_core, low, high in rows:
    print(
        f'{label:40s} {rate:6.0f} {per_core:5.0f} ({low:4.0f}-{high:4.0f}) '
        f'{per_core / floors[0]:11.2f} {per_core / floors[1]:13.2f} {per_core / tf_rate:10.2f} '
        f'{H100_RATE / per_core:10.1f}'
    )
  print('\nGrain per image, one thread (ms):')
  timings = parts(paths[:1000], 224)
  for name, ms in timings.items():
    print(f'  {name:44s} {ms:6.3f}')
  per_core = dict((row[0], row[2]) for row in rows)['Grain, threads']
  rest = 1000 / per_core - timings['train_image, all of it']
  print(f'  {"the pipeline around it (threads, batching)":44s} {rest:6.3f}  (1/rate - train_image)')
  moved = transfer(args.batch, 224)
  print(
      f'  {"to the devices (prefetch_to_device)":44s} {moved:6.3f}  '
      f'({jax.local_device_count()} {jax.default_backend()} device(s); not in the rates above)'
  )
  grain_gap = eval_gap(dataset(args.dir, args.batch, pipeline='grain'),
                       dataset(args.dir, args.batch, pipeline='tf'))  # fmt: skip
  print(f'\neval images, Grain against tf.data: mean absolute difference {grain_gap:.2f} / 255')
  reduced = reduction_gap(paths[:200], 112)
  print(f'eval images at 112 px, DCT-reduced decode against a full one: {reduced:.2f} / 255')


if __name__ == '__main__':
  main()
