"""DeiT-Tiny on ImageNet: `imagenet_deit_small` (DeiT's recipe) with the tiny model."""

from cutmix_jax.config import files


def get_config():
  config = files.load('imagenet_deit_small.py', relative_to=__file__)
  config.model = 'deit_tiny'
  return config
