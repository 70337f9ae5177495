"""The model zoo: ImageNet ResNets (torchvision) and the CIFAR nets of the official CutMix code.

Every model is a Flax Linen module called as `model.apply(variables, x, train, feature_mix)`
with NHWC images that returns float32 logits; it exposes `num_stages` (the boundaries 0..S where
feature-level CutMix may mix), sows its final feature map as `intermediates/features` (and, when
mixing features, the label ratio as `feature_mix/ratio`) and names its classifier `head`.
Input-level mixing needs none of this: any Flax classifier `apply(variables, x, train)` trains.
"""

import flax.linen as nn
import jax.numpy as jnp

from cutmix_jax.models import pyramidnet
from cutmix_jax.models import resnet
from cutmix_jax.models.pyramidnet import PyramidNet
from cutmix_jax.models.resnet import ResNet

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
}


def get_model(name: str, num_classes: int, *, dtype=jnp.float32) -> nn.Module:
  """The model `name` with `num_classes` outputs, computing in `dtype` (parameters float32).

  Raises:
    ValueError: if `name` is not a key of `MODELS`.
  """
  if name not in MODELS:
    raise ValueError(f'unknown model {name!r}; valid models: {", ".join(MODELS)}')
  return MODELS[name](num_classes=num_classes, dtype=dtype)


__all__ = ['DTYPES', 'MODELS', 'PyramidNet', 'ResNet', 'get_model']
