"""Tests of the input pipelines (cutmix_jax.data), offline, on data generated here."""

import dataclasses
import os
import subprocess
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest

from cutmix_jax import data
from cutmix_jax.data import augment
from cutmix_jax.data import folder
from cutmix_jax.data import host_preprocess
from cutmix_jax.data import image_files
from cutmix_jax.data import layout as layout_lib
from cutmix_jax.data import loader
from cutmix_jax.data import memory
from cutmix_jax.data import shapes
from cutmix_jax.data import splits
from cutmix_jax.data import textures
from cutmix_jax.data import train_augment

NUM_DEVICES = jax.local_device_count()


def _take(iterator, count):
  return [next(iterator) for _ in range(count)]


def _assert_batches_equal(left, right):
  assert len(left) == len(right)
  for a, b in zip(left, right):
    assert a.keys() == b.keys()
    for key in a:
      np.testing.assert_array_equal(a[key], b[key])


def _write_folder(root, split, counts, size=(16, 16), ext='png', colour=None, seed=0):
  """Writes `root/split/<class>/<i>.<ext>` random (or constant-colour) images."""
  rng = np.random.default_rng(seed)
  for name, count in counts.items():
    os.makedirs(root / split / name, exist_ok=True)
    for i in range(1, count + 1):
      pixels = (
          np.broadcast_to(np.array(colour, np.uint8), size + (3,))
          if colour is not None
          else rng.integers(0, 256, size + (3,), dtype=np.uint8)
      )
      Image.fromarray(np.ascontiguousarray(pixels)).save(root / split / name / f'{i}.{ext}')


# ---------------------------------------------------------------------------------------------
# Name parsing, batch sizes, TensorFlow-free import
# ---------------------------------------------------------------------------------------------
def load(source: str, *, batch_size: int, eval_batch_size: int, seed: int = 0, **fields):
  """`data.load_dataset` of `DataConfig(source, **fields)`."""
  return data.load_dataset(
      data.DataConfig(source=source, **fields),
      batch_size=batch_size,
      eval_batch_size=eval_batch_size,
      seed=seed,
  )


def test_devices_are_eight():
  assert NUM_DEVICES == 8, 'tests/conftest.py should force 8 host devices'


@pytest.mark.parametrize(
    'name', ['imagenet', 'shapes:3', 'shapes:', 'textures:x', 'folder:', 'tfds:', 'hf:cifar10']
)
def test_unknown_source_lists_valid_forms(name):
  with pytest.raises(
      ValueError, match=r'valid forms: cifar10_mini, shapes, textures, folder:PATH, tfds:NAME'
  ):
    load(name, batch_size=8, eval_batch_size=8, seed=0)


@pytest.mark.parametrize(
    'kwargs, bad',
    [
        ({'batch_size': 12, 'eval_batch_size': 8}, 'batch_size=12'),
        ({'batch_size': 8, 'eval_batch_size': 20}, 'eval_batch_size=20'),
    ],
)
def test_batch_size_not_divisible_by_devices(kwargs, bad):
  with pytest.raises(ValueError, match=bad):
    load('shapes', seed=0, **kwargs)


def test_batch_size_not_divisible_per_process():
  with pytest.raises(ValueError, match='batch_size=8 gives 4 per process'):
    layout_lib.Layout(8, 16, process_index=0, process_count=2, local_device_count=8, device_count=2)
  layout_lib.Layout(16, 16, process_index=0, process_count=2, local_device_count=8, device_count=16)


def test_import_does_not_load_tensorflow():
  code = (
      'import sys, cutmix_jax, cutmix_jax.data, cutmix_jax.training.train_loop, '
      'cutmix_jax.evaluation.run; print("tensorflow" in sys.modules)'
  )
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
  assert out.stdout.strip() == 'False'


# ---------------------------------------------------------------------------------------------
# Schedules: training order, resume, eval coverage (several simulated processes)
# ---------------------------------------------------------------------------------------------
def _indexed_split(n):
  """A split whose label is the example index, to trace where every example goes."""
  return memory.ArraySplit(np.zeros((n, 2, 2, 1), np.uint8), np.arange(n, dtype=np.int32))


@pytest.mark.parametrize('process_count', [1, 2, 4])
def test_processes_share_each_global_batch(process_count):
  layouts = [
      layout_lib.Layout(16, 16, p, process_count, 8 // process_count, 8)
      for p in range(process_count)
  ]
  slices = [layout_lib.train_indices(layout, 3, 1, 70) for layout in layouts]
  steps = np.concatenate(slices, axis=1)  # (steps, global batch)
  assert steps.shape == (70 // 16, 16)
  assert len(np.unique(steps)) == steps.size  # each example at most once per epoch
  # The global order depends on the seed and the epoch only: any process count gives the same.
  single = layout_lib.train_indices(layout_lib.Layout(16, 16, 0, 1, 8, 8), 3, 1, 70)
  np.testing.assert_array_equal(steps, single)
  for seed, epoch in ((3, 2), (4, 1)):
    other = layout_lib.train_indices(layout_lib.Layout(16, 16, 0, 1, 8, 8), seed, epoch, 70)
    assert not np.array_equal(other, single)


@pytest.mark.parametrize(
    'process_count, num_eval, eval_batch',
    [(1, 100, 24), (2, 101, 16), (2, 17, 16), (4, 13, 8), (1, 5, 64)],
)
def test_eval_covers_every_example_once(process_count, num_eval, eval_batch):
  per_process = []
  for process in range(process_count):
    layout = layout_lib.Layout(8, eval_batch, process, process_count, 8 // process_count, 8)
    pipeline = memory.InMemoryPipeline(_indexed_split(8), _indexed_split(num_eval), layout, 0)
    batches = list(pipeline.eval_batches())
    for batch in batches:
      assert batch['mask'].shape == (eval_batch // process_count,)  # this process's rows
      assert batch['image'].shape[:1] == batch['mask'].shape
      assert not batch['label'][~batch['mask']].any()  # padding is zeros
    per_process.append(batches)
  assert len({len(b) for b in per_process}) == 1  # every process runs the same number of steps
  seen = np.concatenate([b['label'][b['mask']] for batches in per_process for b in batches])
  np.testing.assert_array_equal(np.sort(seen), np.arange(num_eval))


def test_eval_with_eight_real_devices():
  ds = load(
      'shapes',
      batch_size=16,
      eval_batch_size=48,
      seed=0,
      synthetic_num_train=64,
      synthetic_num_test=100,
  )
  batches = list(ds.eval_batches())
  assert len(batches) == 3
  assert batches[0]['image'].shape == (48, 32, 32, 3)
  assert batches[0]['box'].shape == (48, 4) and batches[0]['box'].dtype == np.int32
  masks = np.concatenate([b['mask'].ravel() for b in batches])
  np.testing.assert_array_equal(masks, np.arange(144) < 100)


def test_resume_replays_the_same_batches():
  ds = load(
      'shapes',
      batch_size=16,
      eval_batch_size=16,
      seed=5,
      synthetic_num_train=50,
      synthetic_num_test=16,
  )
  assert ds.steps_per_epoch == 3
  uninterrupted = _take(ds.train_batches(), 8)
  _assert_batches_equal(_take(ds.train_batches(start_step=2), 6), uninterrupted[2:])
  _assert_batches_equal(_take(ds.train_batches(start_step=4), 4), uninterrupted[4:])
  assert not np.array_equal(uninterrupted[0]['label'], uninterrupted[3]['label'])  # new epoch


def test_train_order_depends_on_seed():
  load_seed = lambda seed: load(
      'shapes',
      batch_size=16,
      eval_batch_size=16,
      seed=seed,
      synthetic_num_train=64,
      synthetic_num_test=16,
  )
  first, again, other = (next(load_seed(s).train_batches()) for s in (1, 1, 2))
  np.testing.assert_array_equal(first['image'], again['image'])
  assert not np.array_equal(first['image'], other['image'])
  assert first['image'].shape == (16, 32, 32, 3) and first['image'].dtype == np.uint8
  assert first['label'].dtype == np.int32


# ---------------------------------------------------------------------------------------------
# On-device preprocessing
# ---------------------------------------------------------------------------------------------
def test_pad_crop_flip_is_a_crop_of_the_padded_image():
  image = np.arange(1, 37, dtype=np.uint8).reshape(1, 6, 6, 1)
  batch = np.repeat(image, 1000, axis=0)
  out = np.asarray(
      jax.jit(augment.pad_crop_flip, static_argnums=2)(jax.random.PRNGKey(0), batch, 2)
  )
  padded = np.pad(image[0], ((2, 2), (2, 2), (0, 0)))
  candidates = {
      (dy, dx, flip): padded[dy : dy + 6, dx : dx + 6][:, :: -1 if flip else 1]
      for dy in range(5)
      for dx in range(5)
      for flip in (False, True)
  }
  seen = set()
  for result in out:
    matches = [k for k, c in candidates.items() if np.array_equal(c, result)]
    assert len(matches) == 1
    seen.add(matches[0])
  assert len(seen) == 50  # every offset and both flips occur: independent per image


def test_pad_crop_flip_depends_only_on_the_key():
  images = jnp.asarray(np.random.default_rng(0).integers(0, 256, (16, 8, 8, 3), np.uint8))
  a, b, c = (augment.pad_crop_flip(jax.random.PRNGKey(k), images, 4) for k in (1, 1, 2))
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)


def test_memory_preprocess_normalizes_after_zero_padding():
  mean, std = (0.5, 0.25, 0.75), (0.5, 0.25, 0.125)
  images = np.full((64, 4, 4, 3), 255, np.uint8)
  evaluated = augment.normalize(images, mean=mean, std=std)
  np.testing.assert_allclose(evaluated[0, 0, 0], (np.ones(3) - mean) / std, rtol=1e-6)
  trained = np.asarray(
      train_augment.train_preprocess(jax.random.PRNGKey(0), images, mean=mean, std=std, pad=1)
  )
  assert trained.dtype == np.float32
  values = np.unique(trained.reshape(-1, 3), axis=0)  # image pixels and zero-padding pixels
  np.testing.assert_allclose(
      values, np.sort([(np.zeros(3) - mean) / std, (np.ones(3) - mean) / std], axis=0), rtol=1e-6
  )


def test_preprocess_runs_under_pmap():
  ds = load(
      'shapes',
      batch_size=16,
      eval_batch_size=16,
      seed=0,
      synthetic_num_train=32,
      synthetic_num_test=16,
  )
  images = next(ds.train_batches())['image']
  keys = jax.random.split(jax.random.PRNGKey(0), NUM_DEVICES)
  per_device = images.reshape((NUM_DEVICES, -1) + images.shape[1:])
  out = jax.pmap(ds.train_preprocess, axis_name='batch')(keys, per_device)
  assert out.shape == per_device.shape and out.dtype == jnp.float32
  assert abs(float(out.mean())) < 0.5  # normalized by the train-set statistics


def test_channel_stats():
  images = np.random.default_rng(0).integers(0, 256, (9, 5, 7, 3), np.uint8)
  mean, std = augment.channel_stats(images, chunk=4)
  np.testing.assert_allclose(mean, images.mean(axis=(0, 1, 2)) / 255, rtol=1e-10)
  np.testing.assert_allclose(std, images.std(axis=(0, 1, 2)) / 255, rtol=1e-10)


# ---------------------------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------------------------
def test_shapes_is_deterministic_in_the_seed():
  first, again, other = shapes.generate(300, 1), shapes.generate(300, 1), shapes.generate(300, 2)
  for field in ('images', 'labels', 'boxes', 'masks'):
    np.testing.assert_array_equal(getattr(first, field), getattr(again, field))
  assert not np.array_equal(first.images, other.images)
  assert first.images.shape == (300, 32, 32, 3) and first.images.dtype == np.uint8
  np.testing.assert_array_equal(np.bincount(first.labels), np.full(10, 30))


def test_shapes_boxes_are_tight_and_inside():
  generated = shapes.generate(500, 3)
  y1, y2, x1, x2 = generated.boxes.T
  assert (0 <= y1).all() and (y1 < y2).all() and (y2 <= 32).all()
  assert (0 <= x1).all() and (x1 < x2).all() and (x2 <= 32).all()
  assert ((y2 - y1) >= 8).all()  # radius >= 7 px: even the flattest silhouette spans 8 px
  for mask, (top, bottom, left, right) in zip(generated.masks, generated.boxes):
    inside = np.zeros_like(mask)
    inside[top:bottom, left:right] = True
    assert not (mask & ~inside).any()  # the box holds the whole object
    for edge in (mask[top], mask[bottom - 1], mask[:, left], mask[:, right - 1]):
      assert edge.any()  # and touches it on all four sides


def test_shapes_objects_are_painted_where_the_masks_say():
  generated = shapes.generate(200, 4)
  assert shapes.CLASS_NAMES[:2] == ('plain disk', 'striped disk')  # label % 2: the texture
  plain = generated.labels % 2 == 0
  for image, mask in zip(generated.images[plain], generated.masks[plain]):
    assert image[mask].std(axis=0).max() < 12  # one flat colour plus noise of std 8
  striped_spread = [
      image[mask].std(axis=0).max()
      for image, mask in zip(generated.images[~plain], generated.masks[~plain])
  ]
  assert np.median(striped_spread) > 30


# ---------------------------------------------------------------------------------------------
# textures
# ---------------------------------------------------------------------------------------------
def test_textures_is_deterministic_in_the_seed():
  first, again, other = (textures.generate(300, seed) for seed in (1, 1, 2))
  np.testing.assert_array_equal(first.images, again.images)
  np.testing.assert_array_equal(first.labels, again.labels)
  assert not np.array_equal(first.images, other.images)
  assert first.images.shape == (300, 32, 32, 3) and first.images.dtype == np.uint8
  np.testing.assert_array_equal(np.bincount(first.labels), np.full(10, 30))
  assert first.boxes is None


def test_textures_give_no_colour_cue():
  generated = textures.generate(10000, 5)
  class_means = np.stack(
      [generated.images[generated.labels == k].mean(axis=(0, 1, 2)) for k in range(10)]
  )
  assert np.ptp(class_means, axis=0).max() < 8  # of 255 (sampling: ~4): colours drawn alike


def _radial_power_spectrum(images: np.ndarray) -> np.ndarray:
  """Log power in 17 rings of spatial frequency of each grey, standardized image: blind to
  colour, contrast, position and angle."""
  grey = images.astype(np.float32).mean(axis=-1)
  grey = (grey - grey.mean(axis=(1, 2), keepdims=True)) / (
      grey.std(axis=(1, 2), keepdims=True) + 1e-6
  )
  power = np.abs(np.fft.fft2(grey)) ** 2
  frequency = np.fft.fftfreq(32)
  ring = np.minimum((32 * np.hypot(frequency[:, None], frequency[None])).astype(int), 16)
  return np.log(np.stack([power[:, ring == k].mean(axis=1) for k in range(17)], axis=1) + 1e-6)


def test_textures_differ_in_their_pattern():
  """A nearest class mean of the radial spectrum alone beats chance well (measured: 0.28)."""
  train, test = textures.generate(2000, 6), textures.generate(500, 7)
  features = _radial_power_spectrum(train.images)
  centroids = np.stack([features[train.labels == k].mean(axis=0) for k in range(10)])
  distances = ((_radial_power_spectrum(test.images)[:, None] - centroids[None]) ** 2).sum(axis=-1)
  assert (distances.argmin(axis=1) == test.labels).mean() > 0.2  # chance: 0.1


@pytest.mark.parametrize(
    'source, holdout, sizes, names',
    [
        ('shapes', 2, (140, 20), shapes.CLASS_NAMES),  # a hold-out of 2 a class
        ('textures', 0, (160, 40), textures.CLASS_NAMES),
    ],
)
def test_generated_dataset_interface(source, holdout, sizes, names):
  ds = load(
      source,
      batch_size=16,
      eval_batch_size=16,
      seed=0,
      synthetic_num_train=160,
      synthetic_num_test=40,
      holdout_per_class=holdout,
  )
  assert (ds.num_classes, ds.num_train, ds.num_eval) == (10,) + sizes
  assert ds.has_boxes == (source == 'shapes') and ds.image_shape == (32, 32, 3)
  assert ds.class_names == list(names) and ds.steps_per_epoch == sizes[0] // 16


# ---------------------------------------------------------------------------------------------
# folder: (in memory)
# ---------------------------------------------------------------------------------------------
def test_folder_with_test_split(tmp_path):
  _write_folder(tmp_path, 'train', {'cat': 12, 'dog': 10, 'emu': 10}, ext='jpg')
  _write_folder(tmp_path, 'test', {'cat': 3, 'dog': 2, 'emu': 2}, ext='png')
  ds = load(f'folder:{tmp_path}', batch_size=16, eval_batch_size=8, seed=0)
  assert ds.class_names == ['cat', 'dog', 'emu'] and ds.image_shape == (16, 16, 3)
  assert (ds.num_train, ds.num_eval, ds.steps_per_epoch, ds.has_boxes) == (32, 7, 2, False)
  labels = np.concatenate([b['label'][b['mask']] for b in ds.eval_batches()])
  np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 2, 2])
  batch = next(ds.train_batches())
  assert batch['image'].shape == (16, 16, 16, 3) and batch['image'].dtype == np.uint8


def test_folder_holdout_takes_the_last_files_in_numeric_order(tmp_path):
  _write_folder(tmp_path, 'train', {'a': 12, 'b': 11})
  class_names, train, _ = folder.scan(str(tmp_path))
  assert [os.path.basename(p) for p in train.paths[:3]] == ['1.png', '2.png', '3.png']
  ds = load(f'folder:{tmp_path}', batch_size=8, eval_batch_size=8, seed=0, holdout_per_class=2)
  assert (ds.num_train, ds.num_eval) == (19, 4)
  expected = np.stack(
      [
          image_files.decode(str(tmp_path / 'train' / c / f'{i}.png'))
          for c, i in (('a', 11), ('a', 12), ('b', 10), ('b', 11))
      ]
  )
  (batch,) = list(ds.eval_batches())
  np.testing.assert_array_equal(batch['image'][batch['mask']], expected)
  assert class_names == ['a', 'b']


def test_train_per_class_keeps_the_first_files_before_the_holdout(tmp_path):
  _write_folder(tmp_path, 'train', {'a': 12, 'b': 11})
  class_names, files, _ = folder.scan(str(tmp_path))
  config = loader.DataConfig(holdout_per_class=2, train_per_class=3)
  train, evaluation = splits.choose(files, None, config, class_names, 'here')
  names = lambda files: [os.path.relpath(p, tmp_path / 'train') for p in files.paths]
  assert names(train) == ['a/1.png', 'a/2.png', 'a/3.png', 'b/1.png', 'b/2.png', 'b/3.png']
  assert names(evaluation) == ['a/11.png', 'a/12.png', 'b/10.png', 'b/11.png']
  ds = load(
      f'folder:{tmp_path}',
      batch_size=8,
      eval_batch_size=8,
      seed=0,
      holdout_per_class=2,
      train_per_class=4,
  )
  assert (ds.num_train, ds.num_eval) == (8, 4)
  config = dataclasses.replace(config, train_per_class=10)
  with pytest.raises(ValueError, match=r"here: class 'b' has 9 training examples; train_per_cl"):
    splits.choose(files, None, config, class_names, 'here')


def test_folder_without_split_needs_holdout(tmp_path):
  _write_folder(tmp_path, 'train', {'a': 4, 'b': 4})
  with pytest.raises(ValueError, match='holdout_per_class'):
    load(f'folder:{tmp_path}', batch_size=8, eval_batch_size=8, seed=0)


def test_folder_corrupt_file_is_named(tmp_path):
  _write_folder(tmp_path, 'train', {'a': 8, 'b': 8})
  _write_folder(tmp_path, 'val', {'a': 1, 'b': 1})
  (tmp_path / 'train' / 'b' / '5.png').write_bytes(b'not an image')
  with pytest.raises(ValueError, match=r'cannot decode image file .*train/b/5\.png'):
    load(f'folder:{tmp_path}', batch_size=8, eval_batch_size=8, seed=0)


def test_folder_images_of_another_size_are_named(tmp_path):
  _write_folder(tmp_path, 'train', {'a': 8, 'b': 8})
  _write_folder(tmp_path, 'val', {'a': 1, 'b': 1}, size=(20, 16))
  with pytest.raises(ValueError, match=r'val/a/1\.png is 20x16; .* must be 16x16'):
    load(f'folder:{tmp_path}', batch_size=8, eval_batch_size=8, seed=0)


@pytest.mark.parametrize('large_name', ['0.png', '9.png'])  # sorts first, sorts last
def test_a_folder_with_one_large_image_streams_whichever_file_sorts_first(tmp_path, large_name):
  _write_folder(tmp_path, 'train', {'a': 5, 'b': 5})
  Image.new('RGB', (100, 80)).save(tmp_path / 'train' / 'b' / large_name)
  dataset = load(f'folder:{tmp_path}', batch_size=8, eval_batch_size=8, seed=0,
                 holdout_per_class=1, image_size=24)  # fmt: skip
  assert dataset.image_shape == (24, 24, 3)  # streamed: every image resized


def _folder_error(tmp_path, make, error, match):
  make(tmp_path)
  with pytest.raises(error, match=match):
    load(f'folder:{tmp_path}', batch_size=8, eval_batch_size=8, seed=0, holdout_per_class=1)


def test_folder_missing_path(tmp_path):
  _folder_error(tmp_path / 'nowhere', lambda p: None, FileNotFoundError, 'nowhere does not exist')


def test_folder_without_train(tmp_path):
  _folder_error(
      tmp_path,
      lambda p: _write_folder(p, 'test', {'a': 2}),
      FileNotFoundError,
      'has no train/ folder',
  )


def test_folder_empty_class(tmp_path):
  def make(root):
    _write_folder(root, 'train', {'a': 9})
    os.makedirs(root / 'train' / 'b')

  _folder_error(tmp_path, make, ValueError, r'class folder .*train/b is empty')


def test_folder_non_image_file(tmp_path):
  def make(root):
    _write_folder(root, 'train', {'a': 9})
    (root / 'train' / 'a' / 'notes.txt').write_text('x')

  _folder_error(tmp_path, make, ValueError, r'notes\.txt is not an image file')


def test_folder_eval_classes_differ(tmp_path):
  def make(root):
    _write_folder(root, 'train', {'a': 9, 'b': 9})
    _write_folder(root, 'val', {'a': 1, 'c': 1})

  _folder_error(tmp_path, make, ValueError, r"missing \['b'\], extra \['c'\]")


def test_holdout_larger_than_a_class(tmp_path):
  _write_folder(tmp_path, 'train', {'a': 9, 'b': 3})
  with pytest.raises(ValueError, match="class 'b' has 3 training examples"):
    load(f'folder:{tmp_path}', batch_size=8, eval_batch_size=8, seed=0, holdout_per_class=3)


# ---------------------------------------------------------------------------------------------
# folder: streamed through Grain (the default) or tf.data (large images)
# ---------------------------------------------------------------------------------------------
COLOUR = (200, 100, 50)


@pytest.fixture(scope='module')
def large_folder(tmp_path_factory):
  root = tmp_path_factory.mktemp('large')
  _write_folder(root, 'train', {'a': 10, 'b': 10}, size=(80, 96), ext='jpg')
  _write_folder(root, 'train', {'c': 6}, size=(120, 80), ext='png', seed=1)
  _write_folder(root, 'val', {'a': 3, 'b': 2, 'c': 2}, size=(90, 90), ext='png', colour=COLOUR)
  return root


def _load_large(root, **kwargs):
  return load(f'folder:{root}', batch_size=8, eval_batch_size=16, seed=0, image_size=48, **kwargs)


PIPELINES = pytest.mark.parametrize('pipeline', ['', 'tf'])  # '': Grain, a folder's own


@PIPELINES
def test_streamed_folder_batches(large_folder, pipeline):
  ds = _load_large(large_folder, pipeline=pipeline)
  assert (ds.num_train, ds.num_eval, ds.steps_per_epoch) == (26, 7, 3)
  assert ds.image_shape == (48, 48, 3) and ds.mean == augment.IMAGENET_MEAN
  batch = next(ds.train_batches())
  assert batch['image'].shape == (8, 48, 48, 3) and batch['image'].dtype == np.uint8
  (evaluation,) = list(ds.eval_batches())
  assert evaluation['image'].shape == (16, 48, 48, 3) and evaluation['image'].dtype == np.uint8
  np.testing.assert_array_equal(evaluation['mask'].ravel(), np.arange(16) < 7)
  np.testing.assert_array_equal(  # a constant colour stays itself through crop and resize
      evaluation['image'][evaluation['mask']], np.broadcast_to(COLOUR, (7, 48, 48, 3))
  )
  np.testing.assert_array_equal(evaluation['label'][evaluation['mask']], [0, 0, 0, 1, 1, 2, 2])
  # On device: ImageNet normalization only (the host did the augmentation).
  expected = (np.array(COLOUR) / 255 - augment.IMAGENET_MEAN) / augment.IMAGENET_STD
  normalized = ds.eval_preprocess(evaluation['image'])
  np.testing.assert_allclose(normalized[0], np.broadcast_to(expected, (48, 48, 3)), atol=1e-5)
  train_input = ds.train_preprocess(None, batch['image'])
  np.testing.assert_array_equal(train_input, ds.eval_preprocess(batch['image']))


@pytest.mark.parametrize('height, width', [(80, 96), (300, 40)])
def test_random_resized_window(height, width):
  from cutmix_jax.data import tf_preprocess  # pylint: disable=g-import-not-at-top  (TensorFlow)

  windows = np.array(
      [tf_preprocess.random_resized_window([height, width], [7, i]).numpy() for i in range(200)]
  )
  y, x, h, w = windows.T
  assert (y >= 0).all() and (x >= 0).all() and (y + h <= height).all() and (x + w <= width).all()
  assert len(np.unique(windows, axis=0)) > 50
  if height == 80:  # every draw fits: torchvision's area and aspect ranges, up to rounding
    assert (h * w >= 0.08 * height * width * 0.9).all()
    assert (w / h > 0.75 * 0.9).all() and (w / h < 4 / 3 / 0.9).all()
    assert np.median(h * w / (height * width)) == pytest.approx(0.54, abs=0.1)
  else:  # 300 x 40: large areas do not fit; the fallback is the centred 53 x 40 window
    assert ((h == 53) & (w == 40) & (y == 123)).any()


def test_centre_window():
  from cutmix_jax.data import tf_preprocess  # pylint: disable=g-import-not-at-top  (TensorFlow)

  np.testing.assert_array_equal(tf_preprocess.centre_window([100, 200]), [6, 56, 88, 88])


@PIPELINES
def test_streamed_folder_is_deterministic_and_resumable(large_folder, pipeline):
  uninterrupted = _take(_load_large(large_folder, pipeline=pipeline).train_batches(), 5)
  _assert_batches_equal(
      _take(_load_large(large_folder, pipeline=pipeline).train_batches(start_step=2), 3),
      uninterrupted[2:],
  )
  assert not np.allclose(uninterrupted[0]['image'], uninterrupted[3]['image'])
  other_seed = load(
      f'folder:{large_folder}',
      batch_size=8,
      eval_batch_size=16,
      seed=1,
      image_size=48,
      pipeline=pipeline,
  )
  assert not np.allclose(next(other_seed.train_batches())['image'], uninterrupted[0]['image'])


@PIPELINES
def test_streamed_augmentation_is_drawn_per_example(tmp_path, pipeline):
  gradient = np.add.outer(np.arange(96), 2 * np.arange(96)).astype(np.uint8)
  for split, count in (('train', 4), ('val', 1)):
    for name in ('a', 'b'):
      os.makedirs(tmp_path / split / name)
      for i in range(count):  # the same image everywhere
        Image.fromarray(np.stack([gradient] * 3, -1)).save(tmp_path / split / name / f'{i}.png')
  batch = next(_load_large(tmp_path, pipeline=pipeline).train_batches())['image'].reshape(8, -1)
  assert len(np.unique(batch, axis=0)) == 8


def test_streamed_folder_processes_read_disjoint_files(large_folder):
  _, train, evaluation = folder.scan(str(large_folder))
  names, eval_names = [], []
  for process in range(2):
    layout = layout_lib.Layout(8, 8, process, 2, 4, 8)
    source = folder.FileSource(train, evaluation, layout, seed=0)
    names.append(source.train_epoch(0)[1].reshape(3, 4))
    eval_names.append(source.eval_examples()[1])
  steps = np.concatenate(names, axis=1)
  assert len(set(steps.ravel())) == 24
  assert sorted(np.concatenate(eval_names)) == sorted(evaluation.paths)


@pytest.mark.parametrize('pipeline, workers', [('', 0), ('', 2), ('tf', 0)])
def test_streamed_folder_names_a_corrupt_file(tmp_path, pipeline, workers):
  _write_folder(tmp_path, 'train', {'a': 8, 'b': 8}, size=(80, 80), ext='jpg')
  _write_folder(tmp_path, 'val', {'a': 1, 'b': 1}, size=(80, 80), ext='jpg')
  (tmp_path / 'train' / 'b' / '3.jpg').write_bytes(b'\xff\xd8 truncated')
  ds = _load_large(tmp_path, pipeline=pipeline, workers=workers)
  with pytest.raises(ValueError, match=r'^cannot decode image file .*train/b/3\.jpg[^\n]*$'):
    _take(ds.train_batches(), 2)


_GRAIN_BATCHES = """
import sys
import numpy as np
from cutmix_jax.data import folder, grain_pipeline, layout
root, process, count, workers, out = sys.argv[1:]
process, count, workers = int(process), int(count), int(workers)
_, train, evaluation = folder.scan(root)
shape = layout.Layout(8, 16, process, count, 1, count)
files = folder.FileSource(train, evaluation, shape, seed=0)
batches = grain_pipeline.GrainPipeline(files, shape, 0, 48, workers).train_batches(start_step=1)
taken = [next(batches) for _ in range(3)]
np.savez(out, **{f'{k}{i}': b[k] for i, b in enumerate(taken) for k in b})
"""


def _grain_batches(root, out, process, count, workers=0):
  """Batches 1 to 3 of process `process` of `count`, read by its own Python process."""
  subprocess.run(
      [sys.executable, '-c', _GRAIN_BATCHES, str(root), *map(str, (process, count, workers)), out],
      check=True,
  )
  with np.load(out) as saved:
    return [{k: saved[f'{k}{i}'] for k in ('image', 'label')} for i in range(3)]


def test_grain_processes_read_together_exactly_the_global_batch(large_folder):
  from cutmix_jax.data import grain_pipeline  # pylint: disable=g-import-not-at-top

  _, train, evaluation = folder.scan(str(large_folder))

  def batches(process, count):
    layout = layout_lib.Layout(8, 16, process, count, 1, count)
    files = folder.FileSource(train, evaluation, layout, seed=0)
    return _take(grain_pipeline.GrainPipeline(files, layout, 0, 48, 0).train_batches(1), 3)

  halves = [batches(p, 2) for p in range(2)]
  together = [{k: np.concatenate([a[k], b[k]]) for k in a} for a, b in zip(*halves)]
  _assert_batches_equal(together, batches(0, 1))


@pytest.mark.slow
def test_two_grain_processes_and_workers_read_exactly_the_global_batch(large_folder, tmp_path):
  one = _grain_batches(large_folder, str(tmp_path / 'one.npz'), 0, 1)
  halves = [_grain_batches(large_folder, str(tmp_path / f'{p}.npz'), p, 2) for p in range(2)]
  together = [{k: np.concatenate([a[k], b[k]]) for k in a} for a, b in zip(*halves)]
  _assert_batches_equal(together, one)
  _assert_batches_equal(_grain_batches(large_folder, str(tmp_path / 'w.npz'), 0, 1, 2), one)


# ---------------------------------------------------------------------------------------------
# tfds: (tiny datasets built here)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def tfds_dir(tmp_path_factory):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  def builder_class(class_name, shape, sizes):
    def info(self):
      return tfds.core.DatasetInfo(
          builder=self,
          features=tfds.features.FeaturesDict(
              {
                  'image': tfds.features.Image(shape=shape, encoding_format='jpeg'),
                  'label': tfds.features.ClassLabel(names=['x', 'y', 'z']),
              }
          ),
      )

    def split_generators(self, dl_manager):
      del dl_manager
      return {split: self._generate_examples(split, n) for split, n in sizes.items()}

    def generate_examples(self, split, n):
      rng = np.random.default_rng(len(split))
      for i in range(n):
        side = shape[0] or 64 + 8 * (i % 3)
        image = rng.integers(0, 256, (side, shape[1] or 72, 3), np.uint8)
        yield f'{split}{i}', {'image': image, 'label': i % 3}

    return type(
        class_name,
        (tfds.core.GeneratorBasedBuilder,),
        {
            'VERSION': tfds.core.Version('1.0.0'),
            '_info': info,
            '_split_generators': split_generators,
            '_generate_examples': generate_examples,
        },
    )

  root = str(tmp_path_factory.mktemp('tfds'))
  builder_class('TinySmallImages', (24, 24, 3), {'train': 40, 'test': 11})(
      data_dir=root
  ).download_and_prepare()
  builder_class('TinyLargeImages', (None, None, 3), {'train': 20, 'validation': 9})(
      data_dir=root
  ).download_and_prepare()
  for name, shape, sizes in [
      ('TinyRecordImages', (None, None, 3), {'train': 20, 'validation': 9}),
      ('TinySmallRecords', (24, 24, 3), {'train': 40, 'test': 11}),
  ]:
    builder_class(name, shape, sizes)(
        data_dir=root, file_format='array_record'
    ).download_and_prepare()
  return root


def test_tfds_small_images_in_memory(tfds_dir):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  ds = load(
      'tfds:tiny_small_images:1.0.0', tfds_dir=tfds_dir, batch_size=16, eval_batch_size=8, seed=0
  )
  assert (ds.num_train, ds.num_eval, ds.class_names) == (40, 11, ['x', 'y', 'z'])
  assert ds.image_shape == (24, 24, 3)
  batch = next(ds.train_batches())
  assert batch['image'].dtype == np.uint8 and batch['image'].shape == (16, 24, 24, 3)
  images = np.concatenate([b['image'][b['mask']] for b in ds.eval_batches()])
  labels = np.concatenate([b['label'][b['mask']] for b in ds.eval_batches()])
  direct = tfds.as_numpy(
      tfds.builder('tiny_small_images', data_dir=tfds_dir).as_dataset(split='test', batch_size=-1)
  )
  np.testing.assert_array_equal(images, direct['image'])
  np.testing.assert_array_equal(labels, direct['label'])


def test_tfds_small_array_record_images_in_memory(tfds_dir):
  """The same examples prepared as ArrayRecord and as TFRecord: the same splits in memory."""
  records, files = (
      load(f'tfds:tiny_small_{name}', tfds_dir=tfds_dir, batch_size=16, eval_batch_size=8)
      for name in ('records', 'images')
  )
  assert (records.num_train, records.num_eval, records.image_shape) == (40, 11, (24, 24, 3))
  for a, b in zip(records.eval_batches(), files.eval_batches()):  # TFDS decodes ArrayRecord
    np.testing.assert_array_equal(a['label'], b['label'])  # examples without TensorFlow: its
    np.testing.assert_array_equal(a['mask'], b['mask'])  # JPEG decoder differs by a few levels
    gap = np.abs(a['image'].astype(int) - b['image'])
    assert gap.max() <= 12 and gap.mean() < 2  # (noise images: another example is ~85 apart)


def test_tfds_large_images_streamed(tfds_dir):
  load_large = lambda: load(
      'tfds:tiny_large_images',
      tfds_dir=tfds_dir,
      batch_size=8,
      eval_batch_size=8,
      seed=0,
      image_size=32,
  )
  ds = load_large()
  assert (ds.num_train, ds.num_eval, ds.steps_per_epoch) == (20, 9, 2)
  first = _take(ds.train_batches(), 3)
  assert first[0]['image'].shape == (8, 32, 32, 3)
  assert first[0]['image'].dtype == np.uint8
  _assert_batches_equal(_take(load_large().train_batches(start_step=1), 2), first[1:])
  batches = list(ds.eval_batches())
  assert len(batches) == 2
  masks = np.concatenate([b['mask'].ravel() for b in batches])
  np.testing.assert_array_equal(masks, np.arange(16) < 9)
  labels = np.concatenate([b['label'][b['mask']] for b in batches])
  np.testing.assert_array_equal(np.bincount(labels), [3, 3, 3])


def test_tfds_stream_repeats_each_example_on_different_devices():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  from cutmix_jax.data import tfds_source  # pylint: disable=g-import-not-at-top  (TensorFlow)

  layout = layout_lib.Layout(8, 8, 0, 1, 8, 8, repeats=3)
  source = tfds_source.TfdsSource(None, None, None, layout, 0)
  examples = tf.data.Dataset.from_tensor_slices((tf.range(30), tf.range(30) % 3))
  keys = np.array([int(key) for key, _ in source._repeated(examples)])  # pylint: disable=protected-access
  batches = keys[: len(keys) // 8 * 8].reshape(-1, 8)  # one row a device
  assert len(batches) == 10  # 30 // ceil(8 / 3) groups of 3 distinct examples, 8 rows each
  for batch in batches:
    _, counts = np.unique(batch, return_counts=True)
    assert len(counts) == 3 and sorted(counts) == [2, 3, 3]  # tiled and cut to the batch
  np.testing.assert_array_equal(np.unique(batches), np.arange(30))  # in the shuffled order


def _load_records(tfds_dir, **fields):
  return load(
      'tfds:tiny_record_images',
      tfds_dir=tfds_dir,
      batch_size=8,
      eval_batch_size=8,
      seed=0,
      image_size=32,
      **fields,
  )


def test_tfds_array_record_streams_through_grain(tfds_dir):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  from cutmix_jax.data import grain_pipeline  # pylint: disable=g-import-not-at-top

  ds = _load_records(tfds_dir)
  assert isinstance(ds.pipeline, grain_pipeline.GrainPipeline)
  assert (ds.num_train, ds.num_eval, ds.steps_per_epoch) == (20, 9, 2)
  first = _take(ds.train_batches(), 3)
  assert first[0]['image'].shape == (8, 32, 32, 3) and first[0]['image'].dtype == np.uint8
  _assert_batches_equal(_take(_load_records(tfds_dir).train_batches(start_step=1), 2), first[1:])
  batches = list(ds.eval_batches())
  masks = np.concatenate([b['mask'].ravel() for b in batches])
  np.testing.assert_array_equal(masks, np.arange(16) < 9)
  records = tfds.data_source(
      'tiny_record_images',
      split='validation',
      data_dir=tfds_dir,
      decoders={'image': tfds.decode.SkipDecoding()},
  )
  images = np.concatenate([b['image'][b['mask']] for b in batches])
  labels = np.concatenate([b['label'][b['mask']] for b in batches])
  np.testing.assert_array_equal(labels, [records[i]['label'] for i in range(9)])
  for i in range(9):  # every eval example once, in order
    expected = host_preprocess.eval_image('record', 32, data=records[i]['image'])
    np.testing.assert_array_equal(images[i], expected)


@pytest.mark.slow
def test_tfds_array_record_workers_read_the_batches_of_threads(tfds_dir):
  threads = _take(_load_records(tfds_dir).train_batches(start_step=1), 3)
  _assert_batches_equal(_take(_load_records(tfds_dir, workers=2).train_batches(1), 3), threads)


@pytest.mark.parametrize(
    'name, pipeline, valid', [('large', 'grain', "'tf'"), ('record', 'tf', "'grain'")]
)
def test_a_pipeline_that_cannot_read_a_tfds_format_says_which_can(tfds_dir, name, pipeline, valid):
  source = f'tfds:tiny_{name}_images'
  with pytest.raises(
      ValueError, match=rf"^{source}: pipeline='{pipeline}' cannot .*valid: {valid} "
  ):
    load(source, tfds_dir=tfds_dir, batch_size=8, eval_batch_size=8, pipeline=pipeline)


def test_tfds_train_per_class(tfds_dir):
  ds = load(
      'tfds:tiny_small_images',
      tfds_dir=tfds_dir,
      batch_size=8,
      eval_batch_size=8,
      seed=0,
      train_per_class=5,
  )
  assert (ds.num_train, ds.num_eval) == (15, 11)


def test_tfds_cifar10_offline_says_how_to_train_offline(tmp_path, monkeypatch):
  """The real cifar10 builder up to its download (TFDS needs importlib_resources there), then one
  line that names the offline set instead of a requests traceback."""
  import requests  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  def no_network(*args, **kwargs):
    raise requests.exceptions.ConnectionError('no network')

  monkeypatch.setattr(tfds.download.DownloadManager, 'download_and_extract', no_network)
  with pytest.raises(
      OSError, match=r'cifar10 is not in .* downloaded .*--config.data.source=cifar10_mini'
  ):
    load('tfds:cifar10', tfds_dir=str(tmp_path), batch_size=8, eval_batch_size=8, seed=0)


def test_tfds_cifar_constants(tfds_dir, monkeypatch):
  from cutmix_jax.data import tfds_source  # pylint: disable=g-import-not-at-top  (TensorFlow)

  monkeypatch.setattr(tfds_source, 'CIFAR_NAMES', ('tiny_small_images',))
  ds = load('tfds:tiny_small_images', tfds_dir=tfds_dir, batch_size=8, eval_batch_size=8, seed=0)
  assert (ds.mean, ds.std) == (augment.CIFAR_MEAN, augment.CIFAR_STD)


def test_tfds_without_image_label_features():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  from cutmix_jax.data import tfds_source  # pylint: disable=g-import-not-at-top  (TensorFlow)

  features = tfds.features.FeaturesDict(
      {'image': tfds.features.Image(shape=(8, 8, 3)), 'label': tfds.features.Text()}
  )
  builder = types.SimpleNamespace(info=types.SimpleNamespace(features=features, splits={}))
  with pytest.raises(ValueError, match=r"ClassLabel feature; it has \['image', 'label'\]"):
    tfds_source._check_features(builder, 'captions')  # pylint: disable=protected-access
