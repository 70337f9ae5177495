"""DeiT-Base on ImageNet: `imagenet_deit_small` (DeiT's recipe) with the base model."""

from cutmix_jax.config import files


def get_config():
  config = files.load('imagenet_deit_small.py', relative_to=__file__)
  config.model = 'deit_base'
  return config
