"""Every recipe (`cutmix_jax/recipes`, by path in configs/) loads, checks, builds and trains two
steps on stand-in data of its image size and class count (a folder of generated images), with a
small batch.

Each recipe runs in a process of its own on one host device with XLA's optimizations off (as
flax's example tests do): it checks that the recipe builds and trains, not how fast, and so the
ImageNet and PyramidNet-200 recipes cost a minute or a few, not many.
"""

import glob
import json
import os
import subprocess
import sys

import jax
import numpy as np
from PIL import Image
import pytest

from cutmix_jax import recipes
from cutmix_jax.config import files
from cutmix_jax.training import run_builder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = [recipes.path(name) for name in recipes.NAMES]
# A download's classes and image side (None: the recipe's data.image_size).
STAND_INS = {
    'tfds:imagenet2012': (1000, None),
    'tfds:cifar100': (100, 32),
    'tfds:cifar10': (10, 32),
}
QUICK = ('default.py',)  # recipes quick enough for the quick tier
# Recipes that differ from another only in their data: they train the same program, which that
# one's test compiles and trains already (PyramidNet-200 takes minutes to compile on a CPU).
DATA_ONLY = {'cifar10_pyramidnet200': ('cifar100_pyramidnet200', {'data.source': 'tfds:cifar10'})}


def test_configs_holds_every_recipe_by_path_and_the_same_config():
  by_path = sorted(glob.glob(os.path.join(REPO, 'configs', '[!_]*.py')))
  assert [os.path.basename(p)[:-3] for p in by_path] == list(recipes.NAMES)
  for path in by_path:
    name = os.path.basename(path)[:-3]
    assert files.load(path).to_dict() == files.load(recipes.path(name)).to_dict()


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


def train_two_steps(recipe: str, scratch: str) -> dict:
  """Builds `recipe` (its download replaced by a stand-in folder under `scratch`), trains two
  steps; returns what the test checks."""
  config = files.load(recipe)
  num_classes, side = STAND_INS.get(config.data.source, (10, 32))
  if config.data.source in STAND_INS:
    side = side or config.data.image_size  # large images: cropped and resized to image_size
    folder = stand_in_folder(scratch, num_classes, 80 if side > 64 else side)
    config.data.source, config.data.holdout_per_class = f'folder:{folder}', 1
  config.batch_size = config.eval_batch_size = jax.device_count()
  run = run_builder.build_run(config)
  state = run.placement.put_state(run.initial_state())
  batches = run.dataset.train_batches(0)
  losses = []
  for _ in range(2):
    state, metrics = run.train_step(state, run.placement.put_batch(next(batches)))
    losses.append(float(run.placement.first(metrics)['loss']))
  return {
      'expected': [num_classes, [side, side, 3]],
      'got': [run.dataset.num_classes, list(run.dataset.image_shape)],
      'model': run.config.model,
      'step': int(run.placement.first(state).step),
      'losses': losses,
  }


def _param(recipe: str):
  name = os.path.basename(recipe)
  marks = () if name in QUICK else (pytest.mark.slow,)
  return pytest.param(recipe, id=name[: -len('.py')], marks=marks)


@pytest.mark.parametrize('name', sorted(DATA_ONLY))
def test_a_data_only_recipe_is_its_parent_with_other_data(name):
  parent, changed = DATA_ONLY[name]
  config, base = files.load(recipes.path(name)), files.load(recipes.path(parent))
  flat = lambda c: files.flatten(c.to_dict())
  differing = {k: v for k, v in flat(config).items() if flat(base).get(k) != v}
  assert differing == changed and flat(config).keys() == flat(base).keys()


@pytest.mark.parametrize(
    'recipe',
    [_param(recipe) for recipe in RECIPES if os.path.basename(recipe)[:-3] not in DATA_ONLY],
)
def test_every_recipe_trains_two_steps(recipe, tmp_path):
  code = (
      'import json, sys; import test_configs as t; '
      'print(json.dumps(t.train_two_steps(sys.argv[1], sys.argv[2])))'
  )
  env = dict(
      os.environ,
      XLA_FLAGS='--xla_force_host_platform_device_count=1',
      JAX_DISABLE_MOST_OPTIMIZATIONS='1',
      PYTHONPATH=os.pathsep.join([os.path.dirname(__file__), REPO]),
  )
  out = subprocess.run(
      [sys.executable, '-c', code, recipe, str(tmp_path)],
      capture_output=True,
      text=True,
      env=env,
      timeout=1200,
  )
  assert out.returncode == 0, out.stderr[-3000:]
  result = json.loads(out.stdout.strip().splitlines()[-1])
  assert result['got'] == result['expected']
  assert result['step'] == 2 and all(np.isfinite(result['losses']))
  assert result['model'] == files.load(recipe).model
