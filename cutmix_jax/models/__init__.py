"""The model zoo: ImageNet ResNets (torchvision), the CIFAR nets of the official CutMix code, and
DeiT's and DeiT III's Vision Transformers (timm's layout) with a small one for CIFAR.

Every model is a Flax Linen module called as `model.apply(variables, x, train, feature_mix)`
with NHWC images that returns float32 logits; it exposes `num_stages` (the boundaries 0..S where
feature-level CutMix may mix), sows its final feature map as `intermediates/features` (and, when
mixing features, the label ratio as `feature_mix/ratio`) and names its classifier `head`.
A ViT has no stages (`num_stages` 0: input-level mixing only) and draws its stochastic depth
from the 'dropout' rng stream. Input-level mixing needs none of this: any Flax classifier
`apply(variables, x, train)` trains.
"""

import dataclasses
from typing import Any, Mapping, Optional, Tuple

import flax.linen as nn
import jax.numpy as jnp

from cutmix_jax.models import pyramidnet
from cutmix_jax.models import resnet
from cutmix_jax.models import vit
from cutmix_jax.models.pyramidnet import PyramidNet
from cutmix_jax.models.resnet import ResNet
from cutmix_jax.models.vit import VisionTransformer

DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16, 'float16': jnp.float16}  # compute

MODELS = {
    'resnet18': resnet.resnet18,
    'resnet34': resnet.resnet34,
    'resnet50': resnet.resnet50,
    'resnet101': resnet.resnet101,
    'resnet152': resnet.resnet152,
    'resnext50_32x4d': resnet.resnext50_32x4d,
    'resnext101_32x4d': resnet.resnext101_32x4d,
    'resnet_cifar8': resnet.resnet_cifar8,  # the smallest, for tests
    'resnet_cifar20': resnet.resnet_cifar20,
    'resnet_cifar110': resnet.resnet_cifar110,
    'pyramidnet110': pyramidnet.pyramidnet110,
    'pyramidnet200': pyramidnet.pyramidnet200,
    'pyramidnet272': pyramidnet.pyramidnet272,
    'deit_tiny': vit.deit_tiny,
    'deit_small': vit.deit_small,
    'deit_base': vit.deit_base,
    'deit3_small': vit.deit3_small,
    'deit3_base': vit.deit3_base,
    'vit_cifar': vit.vit_cifar,
}


# Set by the code (the run config's `batch_norm` sets `batch_norm_axis`), not by model_settings.
_NOT_SETTINGS = ('num_classes', 'dtype', 'block', 'stem', 'batch_norm_axis', 'parent', 'name')


def _check_name(name: str) -> None:
  if name not in MODELS:
    raise ValueError(f'unknown model {name!r}; valid models: {", ".join(MODELS)}')


def _fields(name: str) -> Tuple[str, ...]:
  _check_name(name)
  module = MODELS[name].func  # every entry is a partial of its module class
  return tuple(f.name for f in dataclasses.fields(module))


def settings_of(name: str) -> Tuple[str, ...]:
  """The settings of model `name` that a config may set (`config.model_settings`): the fields of
  its module other than the class count, the dtype, its building blocks and its BatchNorm axis."""
  return tuple(field for field in _fields(name) if field not in _NOT_SETTINGS)


def has_batch_norm(name: str) -> bool:
  """Whether model `name` normalizes by batch statistics (the ResNets and PyramidNets; a ViT
  normalizes each token by itself)."""
  return 'batch_norm_axis' in _fields(name)


def check_settings(name: str, settings: Mapping[str, Any]) -> None:
  """Raises ValueError (one line) if `settings` names a setting that model `name` lacks."""
  valid = settings_of(name)
  unknown = sorted(set(settings) - set(valid))
  if unknown:
    raise ValueError(f'{name} has no setting {unknown[0]!r}; its settings: {", ".join(valid)}')


def get_model(
    name: str,
    num_classes: int,
    *,
    dtype=jnp.float32,
    settings: Optional[Mapping[str, Any]] = None,
    batch_norm_axis: Optional[str] = None,
) -> nn.Module:
  """The model `name` with `num_classes` outputs, computing in `dtype` (parameters float32).

  Args:
    name: a key of `MODELS`.
    num_classes: the number of outputs.
    dtype: the compute dtype.
    settings: values of some of `settings_of(name)` in place of the named model's (lists are
      taken as tuples), e.g. `{'widths': (32, 64, 128)}`.
    batch_norm_axis: the device axis over which training BatchNorm takes the statistics of the
      whole batch (`ResNet.batch_norm_axis`); a model without BatchNorm has none to take.

  Raises:
    ValueError: if `name` is not a key of `MODELS`, or a setting is not one of its settings.
  """
  settings = dict(settings or {})
  check_settings(name, settings)
  settings = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}
  if batch_norm_axis is not None and has_batch_norm(name):
    settings['batch_norm_axis'] = batch_norm_axis
  return MODELS[name](num_classes=num_classes, dtype=dtype, **settings)


__all__ = [
    'DTYPES',
    'MODELS',
    'PyramidNet',
    'ResNet',
    'VisionTransformer',
    'check_settings',
    'get_model',
    'has_batch_norm',
    'settings_of',
]
