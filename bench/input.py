"""Input pipeline throughput next to the train step's consumption rate, in images per second.

Pipelines: the in-memory path (`shapes`, 32 x 32: host batching plus the on-device
`train_preprocess`) and the tf.data path (JPEGs of 500 x 375 generated into a temporary folder,
decoded, random-resized-cropped to 224 and normalized on the host). Consumers: forward +
backward of `resnet_cifar20` at 32 x 32 and `resnet50` at 224 x 224 (bench/models.py). A ratio
pipeline / consumption above 1 means the input keeps up on this machine.

  python bench/input.py
  python bench/input.py --folder /tmp/cifar10-jpeg --holdout 500   # also time a real folder
"""

import argparse
import os
import tempfile
import time

import jax
import jax.numpy as jnp
import models as model_bench  # bench/models.py, next to this file
import numpy as np
from PIL import Image

from cutmix_jax import data
from cutmix_jax.training import devices


def pipeline_rate(ds, steps: int) -> float:
  """Images per second of `ds.train_batches()`, with `train_preprocess` pmapped on device."""
  preprocess = jax.pmap(ds.train_preprocess, axis_name=devices.AXIS)
  batches = ds.train_batches()

  def run(count):
    for step in range(count):
      images = next(batches)['image']
      keys = jax.random.split(jax.random.fold_in(jax.random.key(0), step), len(images))
      images = preprocess(keys, images)
    jax.block_until_ready(images)
    return images.shape[0] * images.shape[1] * count

  run(2)  # warm-up: compilation, tf.data start-up
  start = time.perf_counter()
  count = run(steps)
  return count / (time.perf_counter() - start)


def write_jpegs(root: str, per_class: int, num_classes: int = 4, size=(375, 500)) -> None:
  """Writes smooth random 500 x 375 JPEGs (quality 90) as root/{train,val}/c<k>/<i>.jpg."""
  rng = np.random.default_rng(0)
  for split, count in (('train', per_class), ('val', 2)):
    for label in range(num_classes):
      os.makedirs(os.path.join(root, split, f'c{label}'))
      for i in range(count):
        coarse = rng.uniform(0, 255, (6, 8, 3)).astype(np.uint8)
        image = Image.fromarray(coarse).resize(size[::-1], Image.BILINEAR)
        noisy = np.asarray(image, np.float32) + rng.normal(0, 12, size + (3,))
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(
            os.path.join(root, split, f'c{label}', f'{i}.jpg'), quality=90
        )


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--batch', type=int, default=128, help='global batch of the 32 px runs')
  parser.add_argument('--large_batch', type=int, default=32, help='batch of the 224 px runs')
  parser.add_argument('--steps', type=int, default=20, help='timed batches per pipeline')
  parser.add_argument('--model_steps', type=int, default=3, help='timed steps per model')
  parser.add_argument('--folder', help='also time folder:FOLDER (e.g. extracted CIFAR-10 JPEGs)')
  parser.add_argument('--holdout', type=int, default=500, help='holdout_per_class for --folder')
  args = parser.parse_args()
  print(
      f'jax {jax.__version__}, {jax.device_count()} {jax.devices()[0].platform} device(s), '
      f'{os.cpu_count()} CPU cores'
  )
  consumers = {
      side: (
          f'{name} {side}px',
          model_bench.benchmark(name, batch, jnp.float32, args.model_steps)['images_per_s'],
      )
      for side, name, batch in (
          (32, 'resnet_cifar20', args.batch),
          (224, 'resnet50', args.large_batch),
      )
  }
  rows = []
  load = lambda batch, **fields: data.load_dataset(
      data.DataConfig(**fields), batch_size=batch, eval_batch_size=batch, seed=0
  )
  shapes = load(args.batch, source='shapes')
  rows.append(('in-memory shapes 32px', 32, pipeline_rate(shapes, args.steps)))
  with tempfile.TemporaryDirectory() as root:
    write_jpegs(root, per_class=max(64, args.large_batch * (args.steps + 2) // 4))
    streamed = load(args.large_batch, source=f'folder:{root}', image_size=224)
    rows.append(('tf.data JPEG 500x375 -> 224', 224, pipeline_rate(streamed, args.steps)))
  if args.folder:
    start = time.perf_counter()
    folder = load(args.batch, source=f'folder:{args.folder}', holdout_per_class=args.holdout)
    print(
        f'folder:{args.folder}: {folder.num_train} train + {folder.num_eval} eval images '
        f'{folder.image_shape}, loaded (decoded once) in {time.perf_counter() - start:.1f} s'
    )
    rows.append(
        (
            f'folder {os.path.basename(args.folder.rstrip("/"))}',
            folder.image_shape[0],
            pipeline_rate(folder, args.steps),
        )
    )
  print(
      f'{"pipeline":32s} {"images/s":>9s}   {"consumer (fwd+bwd)":26s} {"images/s":>9s} '
      f'{"ratio":>6s}'
  )
  for label, side, rate in rows:
    consumer, consumed = consumers[32 if side <= data.IN_MEMORY_MAX_SIDE else 224]
    print(f'{label:32s} {rate:9.0f}   {consumer:26s} {consumed:9.1f} {rate / consumed:6.1f}')


if __name__ == '__main__':
  main()
