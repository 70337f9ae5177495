"""Writes `tests/fixtures/fmix_official.json`: numbers of the official FMix code, to test against.

The official code (github.com/ecs-vlc/FMix, `fmix.py`) is not part of this project; point this
script at a copy of its `fmix.py`. For a few mask shapes it records the Gaussian parameters it
draws, the low-frequency image `make_low_freq_image` makes of them, and the masks that
`binarise_mask` makes of that image for a lam, with its coin for ceil / floor either way and
with and without `max_soft`. `tests/test_family.py` feeds the same parameters and lam to
`cutmix_jax.ops.fourier_mix` and compares.

  python scripts/fmix_official_fixture.py --official=/path/to/FMix/fmix.py
"""

import argparse
import importlib.util
import json
import os
import random
from unittest import mock

import numpy as np

SHAPES = ((8, 10), (7, 9), (16, 16))
LAM, MAX_SOFTS, DECAY = 0.37, (0.0, 0.1), 3.0
OUT = os.path.join(os.path.dirname(__file__), '..', 'tests', 'fixtures', 'fmix_official.json')


def _load(path):
  spec = importlib.util.spec_from_file_location('fmix_official', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--official', required=True, help="path of the official code's fmix.py")
  official = _load(parser.parse_args().official)
  cases = []
  for index, (height, width) in enumerate(SHAPES):
    columns = width // 2 + (2 if width % 2 else 1)
    parameters = np.random.default_rng(index).normal(size=(1, height, columns, 2))
    with mock.patch.object(np.random, 'randn', lambda *shape, p=parameters: p):
      image = official.make_low_freq_image(DECAY, (height, width))
    masks = {}
    for max_soft in MAX_SOFTS:
      for coin, draw in (('ceil', 0.9), ('floor', 0.1)):  # random.random() > 0.5: ceil
        with mock.patch.object(random, 'random', lambda d=draw: d):
          mask = official.binarise_mask(image.copy(), LAM, (height, width), max_soft)
        masks[f'{max_soft}-{coin}'] = np.asarray(mask)[0].tolist()
    cases.append(
        {
            'shape': [height, width],
            'parameters': parameters[0].tolist(),
            'image': image[0].tolist(),
            'masks': masks,
        }
    )
  fixture = {'decay_power': DECAY, 'lam': LAM, 'cases': cases}
  with open(OUT, 'w', encoding='utf-8') as f:
    json.dump(fixture, f)
  print(f'wrote {os.path.normpath(OUT)}')


if __name__ == '__main__':
  main()
