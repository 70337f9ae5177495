"""Every recipe in configs/ loads, checks, builds and trains two steps on stand-in data of its
image size and class count (a folder of generated images), with a small batch."""

import glob
import os

import jax
import numpy as np
from PIL import Image
import pytest

from cutmix_jax.config import files
from cutmix_jax.training import devices
from cutmix_jax.training import run_builder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = sorted(glob.glob(os.path.join(REPO, 'configs', '[!_]*.py')))
# A download's classes and image side (None: the recipe's data.image_size).
STAND_INS = {
    'tfds:imagenet2012': (1000, None),
    'tfds:cifar100': (100, 32),
    'tfds:cifar10': (10, 32),
}
SMALL_NETS = ('default.py',)  # recipes quick enough for the quick tier


def stand_in_folder(root: str, num_classes: int, side: int) -> str:
  """`root/train/<class>/{0,1}.png`: two noise images of `side` px a class."""
  rng = np.random.default_rng(0)
  for label in range(num_classes):
    class_dir = os.path.join(root, 'train', f'c{label:04d}')
    os.makedirs(class_dir)
    for index in range(2):
      pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
      Image.fromarray(pixels).save(os.path.join(class_dir, f'{index}.png'))
  return root


def _params(recipe: str):
  name = os.path.basename(recipe)
  marks = () if name in SMALL_NETS else (pytest.mark.slow,)
  return pytest.param(recipe, id=name[: -len('.py')], marks=marks)


@pytest.mark.parametrize('recipe', [_params(recipe) for recipe in RECIPES])
def test_every_recipe_trains_two_steps(recipe, tmp_path):
  config = files.load(recipe)
  source = config.data.source
  num_classes, side = STAND_INS.get(source, (10, 32))
  if source in STAND_INS:  # a download: stand in a folder of the same image size and classes
    side = side or config.data.image_size  # large images: cropped and resized to image_size
    folder = stand_in_folder(str(tmp_path), num_classes, 80 if side > 64 else side)
    config.data.source, config.data.holdout_per_class = f'folder:{folder}', 1
  config.batch_size = config.eval_batch_size = jax.device_count()
  run = run_builder.build_run(config)
  assert run.dataset.num_classes == num_classes
  assert run.dataset.image_shape == (side, side, 3)
  state = devices.replicate(run.initial_state())
  batches = run.dataset.train_batches(0)
  for _ in range(2):
    state, metrics = run.train_step(state, next(batches))
  assert int(devices.unreplicate(state).step) == 2
  assert np.isfinite(np.asarray(metrics['loss'])).all()
