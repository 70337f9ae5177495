"""Tests of the built-in `cifar10_mini` set: the shipped archive, its build script, loading it,
and that training and evaluating built-in and in-memory data never import TensorFlow."""

import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile

from conftest import REPO
import numpy as np
from PIL import Image
import pytest

from cutmix_jax import data
from cutmix_jax.data import augment
from cutmix_jax.data import cifar10_mini

BUILD_SCRIPT = os.path.join(REPO, 'scripts', 'build_cifar10_mini.py')


def _members(path):
  with tarfile.open(path, 'r:gz') as archive:
    return [(m, archive.extractfile(m).read()) for m in archive.getmembers()]


def test_shipped_archive_holds_the_first_100_and_last_500_of_each_class():
  with open(cifar10_mini.ARCHIVE, 'rb') as file:
    assert hashlib.sha256(file.read()).hexdigest() == cifar10_mini.SHA256
  numbers = {(split, name): [] for split in ('train', 'eval') for name in cifar10_mini.CLASS_NAMES}
  contents = {'train': set(), 'eval': set()}
  for member, content in _members(cifar10_mini.ARCHIVE):
    split, name, number = re.match(r'cifar10_mini/(\w+)/(\w+)/(\d{4})\.jpg$', member.name).groups()
    numbers[split, name].append(int(number))
    contents[split].add(hashlib.sha256(content).digest())
    assert content[:2] == b'\xff\xd8'  # a JPEG stream, stored as it was
  for (split, _), found in numbers.items():
    assert found == list(range(100) if split == 'train' else range(4500, 5000))
  # Train and eval share no file name (above) and no image content.
  assert len(contents['train']) == 1000 and len(contents['eval']) == 5000
  assert not contents['train'] & contents['eval']


def _source_tarball(path, counts):
  """A tarball like the CIFAR-10 JPEG copy, `train/<class>/<nnnn>.jpg`, members out of order."""
  rng = np.random.default_rng(0)
  files = [(f'train/{name}/{i:04d}.jpg', rng.bytes(50 + i)) for name, n in counts.items()
           for i in range(n)]  # fmt: skip
  with tarfile.open(path, 'w:gz') as archive:
    for name, content in reversed(files):
      info = tarfile.TarInfo(name)
      info.size, info.mtime, info.uid, info.uname = len(content), 12345 + len(name), 7, 'someone'
      archive.addfile(info, io.BytesIO(content))
  return dict(files)


def _build(source, out, *flags):
  subprocess.run([sys.executable, BUILD_SCRIPT, str(source), str(out), *flags], check=True,
                 capture_output=True)  # fmt: skip
  return out.read_bytes()


def test_build_script_is_deterministic_and_copies_bytes(tmp_path):
  originals = _source_tarball(tmp_path / 'src.tar.gz', {'cat': 9, 'ant': 7})
  first = _build(tmp_path / 'src.tar.gz', tmp_path / 'a.tar.gz', '--train-per-class=2',
                 '--eval-per-class=3')  # fmt: skip
  assert first[3] == 0 and first[4:8] == b'\0\0\0\0'  # gzip header: no name, no time (gzip -n)
  (tmp_path / 'src.tar.gz').unlink()
  _source_tarball(tmp_path / 'src.tar.gz', {'cat': 9, 'ant': 7})  # written again, same content
  again = _build(tmp_path / 'src.tar.gz', tmp_path / 'b.tar.gz', '--train-per-class=2',
                 '--eval-per-class=3')  # fmt: skip
  assert first == again
  members = _members(tmp_path / 'a.tar.gz')
  names = [m.name for m, _ in members]
  picks = (('eval', {'ant': (4, 5, 6), 'cat': (6, 7, 8)}),
           ('train', {'ant': (0, 1), 'cat': (0, 1)}))  # fmt: skip
  expected = [f'cifar10_mini/{split}/{name}/{i:04d}.jpg' for split, chosen in picks
              for name, numbers in chosen.items() for i in numbers]  # fmt: skip
  assert names == expected
  for member, content in members:
    assert content == originals['train/' + member.name.split('/', 2)[2]]
    fixed = (member.mtime, member.uid, member.gid, member.uname, member.mode)
    assert fixed == (1546300800, 0, 0, '', 0o644)
  with gzip.open(tmp_path / 'a.tar.gz') as unzipped:
    assert len(unzipped.read()) % 512 == 0


def test_build_script_refuses_a_class_too_small(tmp_path):
  _source_tarball(tmp_path / 'src.tar.gz', {'cat': 4})
  command = [sys.executable, BUILD_SCRIPT, str(tmp_path / 'src.tar.gz'), str(tmp_path / 'o.tgz')]
  result = subprocess.run(command, capture_output=True, text=True)
  assert result.returncode == 1 and "class 'cat' has 4 images" in result.stderr


def load(**fields):
  return data.load_dataset(
      data.DataConfig(source='cifar10_mini', **fields), batch_size=64, eval_batch_size=128, seed=0
  )


def test_cifar10_mini_loads_its_two_splits_in_memory():
  dataset = load()
  assert (dataset.num_train, dataset.num_eval, dataset.steps_per_epoch) == (1000, 5000, 15)
  assert dataset.class_names == list(cifar10_mini.CLASS_NAMES) and not dataset.has_boxes
  assert (dataset.mean, dataset.std) == (augment.CIFAR_MEAN, augment.CIFAR_STD)
  labels = np.concatenate([b['label'][b['mask']] for b in dataset.eval_batches()])
  np.testing.assert_array_equal(np.bincount(labels), [500] * 10)
  with tarfile.open(cifar10_mini.ARCHIVE, 'r:gz') as archive:
    member = archive.extractfile('cifar10_mini/eval/airplane/4500.jpg').read()
  first = next(iter(dataset.eval_batches()))
  np.testing.assert_array_equal(first['image'][0], np.asarray(Image.open(io.BytesIO(member))))


def test_cifar10_mini_takes_the_split_policy():
  assert load(train_per_class=10).num_train == 100
  held_out = load(holdout_per_class=20)
  assert (held_out.num_train, held_out.num_eval) == (800, 200)


def test_a_damaged_archive_is_named(tmp_path):
  damaged = tmp_path / 'cifar10_mini.tar.gz'
  damaged.write_bytes(cifar10_mini.ARCHIVE.read_bytes()[:-10])
  with pytest.raises(ValueError, match=f'{damaged} is damaged'):
    cifar10_mini.read_archive(damaged)


def _run_without_tensorflow(script, *args):
  """Runs `python script args` in a subprocess; returns its output and the TensorFlow modules
  that were imported by the end (printed at exit)."""
  code = (
      'import atexit, runpy, sys\n'
      'atexit.register(lambda: print("IMPORTED", sorted(m for m in sys.modules '
      'if m.split(".")[0] in ("tensorflow", "tensorflow_datasets"))))\n'
      f'sys.argv = {[script, *args]!r}\n'
      f'runpy.run_path({script!r}, run_name="__main__")\n'
  )
  result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True)
  assert result.returncode == 0, result.stdout + result.stderr
  return result.stdout, json.loads(result.stdout.rsplit('IMPORTED', 1)[1].replace("'", '"'))


@pytest.mark.slow
def test_training_and_evaluating_built_in_data_never_import_tensorflow(tmp_path):
  workdir = str(tmp_path / 'run')
  short = ['--config.num_train_steps=2', '--config.model=resnet_cifar8', '--config.dtype=float32',
           '--config.progress_bar=False']  # fmt: skip
  out, imported = _run_without_tensorflow('train.py', f'--workdir={workdir}', *short)
  assert 'best eval top-1 error' in out and imported == []
  folder = tmp_path / 'ood'  # an in-memory folder set (40 px) as an OOD set
  for split, count in (('train', 16), ('test', 4)):
    os.makedirs(folder / split / 'thing')
    for i in range(count):
      Image.new('RGB', (40, 40), (10 * i, 0, 0)).save(folder / split / 'thing' / f'{i}.png')
  quick = ['--nofgsm', '--nocorruptions', '--noocclusion', '--config.eval_batch_size=1000',
           f'--ood=shapes,textures,folder:{folder}']  # fmt: skip
  out, imported = _run_without_tensorflow('evaluate.py', f'--workdir={workdir}', *quick)
  assert 'OOD textures' in out and imported == []


@pytest.mark.slow
def test_training_on_a_folder_of_large_images_never_imports_tensorflow(tmp_path):
  folder = tmp_path / 'large'  # 100 px JPEGs: streamed through Grain, the folder default
  rng = np.random.default_rng(0)
  for name in ('a', 'b'):
    os.makedirs(folder / 'train' / name)
    for i in range(12):
      pixels = rng.integers(0, 255, (100, 120, 3), dtype=np.uint8)
      Image.fromarray(pixels).save(folder / 'train' / name / f'{i}.jpg')
  short = [f'--config.data.source=folder:{folder}', '--config.data.image_size=48',
           '--config.data.holdout_per_class=2', '--config.batch_size=16',
           '--config.eval_batch_size=8', '--config.num_train_steps=2',
           '--config.model=resnet_cifar8', '--config.dtype=float32',
           '--config.progress_bar=False']  # fmt: skip
  out, imported = _run_without_tensorflow('train.py', f'--workdir={tmp_path / "run"}', *short)
  assert 'best eval top-1 error' in out and imported == []
