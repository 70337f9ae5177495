"""ResNets (He et al., 2016) and ResNeXts (Xie et al., 2017): torchvision's ImageNet models and
the official CutMix CIFAR ResNet.

All share the blocks (post-activation; stride on the 3x3 conv; a 1x1 conv + BN projection
shortcut where the shape changes); a ResNeXt block splits its 3x3 conv into groups and widens
the inner convs (torchvision's `groups` and `width_per_group`). They differ in the stem
(ImageNet: 7x7/2 conv and max-pool; CIFAR: 3x3/1 conv) and the widths (64-512 over four stages;
16-64 over three).
"""

import functools
from typing import Any, Optional, Sequence, Tuple

import flax.linen as nn
import jax.numpy as jnp

from cutmix_jax.models import layers
from cutmix_jax.ops.feature_mix import FeatureMix


class ResidualBlock(nn.Module):
  """A residual block `(N, H, W, C) -> (N, H / strides, W / strides, planes * expansion)`.

  Attributes:
    planes: width of the inner convs.
    strides: 1, or 2 to halve the feature map.
    kernels: the branch's conv kernels: (3, 3) for BasicBlock, (1, 3, 1) for Bottleneck.
    expansion: output channels per plane of the last conv (1 basic, 4 bottleneck).
    groups: channel groups of the 3x3 conv (ResNeXt's cardinality; 1 for a ResNet).
    width_per_group: the inner width is `planes * width_per_group / 64 * groups` (64 and 1 give
      `planes`; ResNeXt-101 32x4d has 32 groups of 4).
    dtype: compute dtype.
    batch_norm_axis: the device axis over which BatchNorm takes whole-batch statistics, or None
      for each device's share (`layers.batch_norm`).
  """

  planes: int
  strides: int = 1
  kernels: Tuple[int, ...] = (3, 3)
  expansion: int = 1
  groups: int = 1
  width_per_group: int = 64
  dtype: Any = jnp.float32
  batch_norm_axis: Optional[str] = None

  @property
  def widths(self) -> Tuple[int, ...]:
    """Output channels of each conv of the branch."""
    inner = int(self.planes * self.width_per_group / 64) * self.groups
    return (inner,) * (len(self.kernels) - 1) + (self.planes * self.expansion,)

  @nn.compact
  def __call__(self, x, train: bool):
    y = layers.conv_bn_chain(
        x,
        self.widths,
        self.kernels,
        self.strides,
        train,
        self.dtype,
        self.groups,
        self.batch_norm_axis,
    )
    if self.strides != 1 or x.shape[-1] != y.shape[-1]:
      x = layers.conv(y.shape[-1], 1, self.strides, dtype=self.dtype, name='proj_conv')(x)
      x = layers.batch_norm(
          train, dtype=self.dtype, axis_name=self.batch_norm_axis, name='proj_norm'
      )(x)
    return nn.relu(y + x)


BasicBlock = functools.partial(ResidualBlock, kernels=(3, 3), expansion=1)
Bottleneck = functools.partial(ResidualBlock, kernels=(1, 3, 1), expansion=4)


class ResNet(nn.Module):
  """A ResNet classifier.

  Attributes:
    num_classes: K.
    stage_sizes: number of blocks in each stage.
    block: `BasicBlock` or `Bottleneck`.
    widths: planes of each stage (a block outputs `planes * expansion` channels).
    stem: `layers.imagenet_stem` or `layers.cifar_stem`.
    dtype: compute dtype of convs and BN (parameters and logits stay float32).
    batch_norm_axis: the device axis over which training BatchNorm takes the statistics of the
      whole batch (the train step's `devices.AXIS`), or None for each device's share.
  """

  num_classes: int
  stage_sizes: Sequence[int]
  block: layers.ModuleDef = BasicBlock
  widths: Sequence[int] = (64, 128, 256, 512)
  stem: layers.ModuleDef = layers.imagenet_stem
  dtype: Any = jnp.float32
  batch_norm_axis: Optional[str] = None

  @property
  def num_stages(self) -> int:
    """Stages S; feature-level CutMix chooses among boundaries 0..S."""
    return len(self.stage_sizes)

  @nn.compact
  def __call__(self, x, train: bool = False, feature_mix: Optional[FeatureMix] = None):
    """Classifies images.

    Args:
      x: `(N, H, W, C)` images.
      train: use and update batch statistics (apply with `mutable=['batch_stats']`).
      feature_mix: a feature-level CutMix request, or None. With one, apply with
        `mutable=[..., feature_mix.COLLECTION]` to get the partner's label weight.

    Returns:
      float32 logits `(N, num_classes)`.
    """
    plan = [(width,) * size for width, size in zip(self.widths, self.stage_sizes)]
    common = dict(dtype=self.dtype, batch_norm_axis=self.batch_norm_axis)
    stages = layers.make_stages(functools.partial(self.block, **common), plan)
    stem = self.stem(**common, name='stem')
    x, ratio = layers.stages_with_mixing(x, train, feature_mix, stem, stages)
    return layers.classify(self, x, self.num_classes, ratio, feature_mix)


# torchvision's ImageNet ResNets.
resnet18 = functools.partial(ResNet, stage_sizes=(2, 2, 2, 2), block=BasicBlock)
resnet34 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3), block=BasicBlock)
resnet50 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3), block=Bottleneck)
resnet101 = functools.partial(ResNet, stage_sizes=(3, 4, 23, 3), block=Bottleneck)
resnet152 = functools.partial(ResNet, stage_sizes=(3, 8, 36, 3), block=Bottleneck)
# torchvision's ResNeXts: 32 groups of 4 channels in each 3x3 conv.
_ResNeXtBlock = functools.partial(Bottleneck, groups=32, width_per_group=4)
resnext50_32x4d = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3), block=_ResNeXtBlock)
resnext101_32x4d = functools.partial(ResNet, stage_sizes=(3, 4, 23, 3), block=_ResNeXtBlock)

# The official code's CIFAR ResNets: depth 6n + 2 (basic) or 9n + 2 (bottleneck), n per stage.
_cifar_resnet = functools.partial(ResNet, widths=(16, 32, 64), stem=layers.cifar_stem)
resnet_cifar8 = functools.partial(_cifar_resnet, stage_sizes=(1, 1, 1), block=BasicBlock)
resnet_cifar20 = functools.partial(_cifar_resnet, stage_sizes=(3, 3, 3), block=BasicBlock)
resnet_cifar110 = functools.partial(_cifar_resnet, stage_sizes=(12, 12, 12), block=Bottleneck)
