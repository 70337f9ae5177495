"""The benchmarks time each model at the input size it is built for."""

import importlib.util
import os

from cutmix_jax import models

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _bench_common():
  spec = importlib.util.spec_from_file_location('common', os.path.join(REPO, 'bench', 'common.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_every_cifar_model_is_timed_at_32_and_the_others_at_224():
  # A CIFAR model timed at 224 x 224 asks for hundreds of GiB (vit_cifar: 3,136 patches an image).
  common = _bench_common()
  for name in models.MODELS:
    for_cifar = 'cifar' in name or name.startswith('pyramidnet')
    assert common.input_setting(name)[0] == (32 if for_cifar else 224), name
