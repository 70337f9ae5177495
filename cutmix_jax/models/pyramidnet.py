"""PyramidNet (Han et al., CVPR 2017) for CIFAR, as defined by the official CutMix code.

The width grows additively by alpha / (3n) at every block instead of doubling per stage. Blocks
start with BN and end with BN, with no ReLU after the residual add; shortcuts are never
projected: a strided block's shortcut is a 2x2 average pool, and the extra channels are zeros.
"""

import functools
import itertools
from typing import Any, Optional, Tuple

import flax.linen as nn
import jax.numpy as jnp

from cutmix_jax.models import layers
from cutmix_jax.models import resnet
from cutmix_jax.ops.feature_mix import FeatureMix


def pyramid_shortcut(x, strides: int, features: int):
  """`(N, H, W, C) -> (N, ceil(H / strides), ceil(W / strides), features)`, C <= features.

  Average-pools 2x2 (ceil mode: a window cut by the border averages what it covers) when
  strided, then zero-pads the channels.
  """
  if strides != 1:
    height, width = x.shape[1:3]
    x = nn.avg_pool(
        x,
        (strides, strides),
        (strides, strides),
        padding=((0, height % strides), (0, width % strides)),
        count_include_pad=False,
    )
  return jnp.pad(x, ((0, 0), (0, 0), (0, 0), (0, features - x.shape[-1])))


class PyramidBlock(resnet.ResidualBlock):
  """PyramidNet's block: BN, the conv-BN branch, plus the unprojected shortcut; no final ReLU.

  The attributes are those of `resnet.ResidualBlock`.
  """

  @nn.compact
  def __call__(self, x, train: bool):
    axis = self.batch_norm_axis
    y = layers.batch_norm(train, dtype=self.dtype, axis_name=axis)(x)
    y = layers.conv_bn_chain(
        y, self.widths, self.kernels, self.strides, train, self.dtype, batch_norm_axis=axis
    )
    return y + pyramid_shortcut(x, self.strides, y.shape[-1])


PyramidBasicBlock = functools.partial(PyramidBlock, kernels=(3, 3), expansion=1)
PyramidBottleneck = functools.partial(PyramidBlock, kernels=(1, 3, 1), expansion=4)


def blocks_per_stage(depth: int, bottleneck: bool) -> int:
  """n of a CIFAR depth `9n + 2` (bottleneck) or `6n + 2` (basic)."""
  layers_per_block = 9 if bottleneck else 6
  if depth < layers_per_block + 2 or (depth - 2) % layers_per_block:
    raise ValueError(
        f'depth must be {layers_per_block}n + 2 with n >= 1 for '
        f'bottleneck={bottleneck}; got {depth}'
    )
  return (depth - 2) // layers_per_block


def pyramid_widths(depth: int, alpha: float, bottleneck: bool) -> Tuple[Tuple[int, ...], ...]:
  """The planes of every block, stage by stage, as the official `pyramidal_make_layer`.

  A running width starts at the stem's 16 and grows by alpha / (3n) per block (accumulated in
  float, as there); each block's planes are the running width rounded by Python's `round`.
  """
  n = blocks_per_stage(depth, bottleneck)
  growth = [alpha / (3 * n)] * (3 * n)
  running = itertools.accumulate(growth, initial=float(layers.CIFAR_STEM_WIDTH))
  planes = [int(round(width)) for width in list(running)[1:]]
  return tuple(tuple(planes[k * n : (k + 1) * n]) for k in range(3))


class PyramidNet(nn.Module):
  """A CIFAR PyramidNet classifier.

  Attributes:
    num_classes: K.
    depth: 9n + 2 with bottleneck blocks, 6n + 2 with basic blocks.
    alpha: total widening over the network.
    bottleneck: bottleneck blocks (output 4 * planes) instead of basic ones.
    dtype: compute dtype of convs and BN (parameters and logits stay float32).
    batch_norm_axis: as `resnet.ResNet`'s: whole-batch BatchNorm statistics over that device
      axis, or None for each device's share.
  """

  num_classes: int
  depth: int
  alpha: float
  bottleneck: bool = True
  dtype: Any = jnp.float32
  batch_norm_axis: Optional[str] = None

  num_stages = 3

  @nn.compact
  def __call__(self, x, train: bool = False, feature_mix: Optional[FeatureMix] = None):
    """Classifies `(N, H, W, C)` images; arguments and results as `resnet.ResNet.__call__`."""
    block = PyramidBottleneck if self.bottleneck else PyramidBasicBlock
    widths = pyramid_widths(self.depth, self.alpha, self.bottleneck)
    common = dict(dtype=self.dtype, batch_norm_axis=self.batch_norm_axis)
    stages = layers.make_stages(functools.partial(block, **common), widths)
    stem = layers.cifar_stem(relu=False, **common, name='stem')
    x, ratio = layers.stages_with_mixing(x, train, feature_mix, stem, stages)
    final_norm = layers.batch_norm(
        train, dtype=self.dtype, axis_name=self.batch_norm_axis, name='final_norm'
    )
    x = nn.relu(final_norm(x))
    return layers.classify(self, x, self.num_classes, ratio, feature_mix)


# The paper's CIFAR PyramidNets (all bottleneck).
pyramidnet110 = functools.partial(PyramidNet, depth=110, alpha=64)
pyramidnet200 = functools.partial(PyramidNet, depth=200, alpha=240)
pyramidnet272 = functools.partial(PyramidNet, depth=272, alpha=200)
