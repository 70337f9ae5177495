"""Pieces shared by the model zoo: conv and BatchNorm factories, the stem, the stage loop that
applies feature-level CutMix, and the classifier head.

Conventions of every model: NHWC inputs; convs and BatchNorm compute in `dtype` (bfloat16 on
GPU/TPU) with float32 parameters and float32 BatchNorm statistics; logits are float32. Padding is
explicit and symmetric, as in PyTorch, so feature map sizes match torchvision's
(224 -> 112 -> 56 -> 28 -> 14 -> 7).
"""

import functools
import math
from typing import Any, Callable, Optional, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from cutmix_jax.models import filter_gradient
from cutmix_jax.models.batch_norm import BatchNorm
from cutmix_jax.ops import arguments
from cutmix_jax.ops.feature_mix import COLLECTION
from cutmix_jax.ops.feature_mix import FeatureMix
from cutmix_jax.ops.feature_mix import mix_at_stage

ModuleDef = Any

# He normal over fan_out = kh * kw * out_channels, untruncated: the official code's conv init.
CONV_INIT = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')
BN_MOMENTUM = 0.9  # PyTorch's momentum 0.1: running = 0.9 * running + 0.1 * batch.
BN_EPSILON = 1e-5
CIFAR_STEM_WIDTH = 16


def conv(
    features: int, kernel: int, strides: int = 1, *, dtype, groups: int = 1, name=None
) -> nn.Conv:
  """A bias-free `kernel x kernel` conv padded by `kernel // 2` on every side, as PyTorch's;
  `groups` > 1 splits the channels into that many groups (ResNeXt). Its filter gradient sums
  over example groups on the CPU (`filter_gradient`: several times faster there)."""
  pad = ((kernel // 2, kernel // 2),) * 2
  return nn.Conv(
      features,
      (kernel, kernel),
      (strides, strides),
      padding=pad,
      feature_group_count=groups,
      use_bias=False,
      dtype=dtype,
      param_dtype=jnp.float32,
      kernel_init=CONV_INIT,
      conv_general_dilated=filter_gradient.conv_general_dilated,
      name=name,
  )


def batch_norm(train: bool, *, dtype, axis_name: Optional[str] = None, name=None) -> BatchNorm:
  """BatchNorm over the device's share of the batch, or over the whole batch with the device
  axis `axis_name` (`BatchNorm.axis_name`); the train step averages the running statistics
  across devices."""
  return BatchNorm(
      use_running_average=not train,
      momentum=BN_MOMENTUM,
      epsilon=BN_EPSILON,
      dtype=dtype,
      param_dtype=jnp.float32,
      axis_name=axis_name,
      name=name,
  )


def conv_bn_chain(
    x,
    features: Sequence[int],
    kernels: Sequence[int],
    strides: int,
    train: bool,
    dtype,
    groups: int = 1,
    batch_norm_axis: Optional[str] = None,
):
  """The residual branch: convs each followed by BN, with a ReLU between two (none at the end).

  Args:
    x: `(N, H, W, C)`.
    features: output channels of each conv.
    kernels: kernel size of each conv; the first 3x3 conv carries the stride.
    strides: 1 or 2.
    train: whether BN uses batch statistics.
    dtype: compute dtype.
    groups: channel groups of the (first) 3x3 conv, 1 but for ResNeXt.
    batch_norm_axis: the device axis of whole-batch BatchNorm statistics, or None (`batch_norm`).

  Returns:
    `(N, ceil(H / strides), ceil(W / strides), features[-1])`.
  """
  stride_at = list(kernels).index(3)
  for i, (width, kernel) in enumerate(zip(features, kernels)):
    if i:
      x = nn.relu(x)
    split = groups if i == stride_at else 1
    x = conv(width, kernel, strides if i == stride_at else 1, dtype=dtype, groups=split)(x)
    x = batch_norm(train, dtype=dtype, axis_name=batch_norm_axis)(x)
  return x


class Stem(nn.Module):
  """conv-BN, then optionally ReLU and a 3x3 stride-2 max-pool: `(N, H, W, 3) -> (N, h, w, C)`
  (`batch_norm_axis`: as `batch_norm`'s `axis_name`)."""

  features: int
  kernel: int
  strides: int = 1
  relu: bool = True
  max_pool: bool = False
  dtype: Any = jnp.float32
  batch_norm_axis: Optional[str] = None

  @nn.compact
  def __call__(self, x, train: bool):
    x = conv(self.features, self.kernel, self.strides, dtype=self.dtype)(x)
    x = batch_norm(train, dtype=self.dtype, axis_name=self.batch_norm_axis)(x)
    if self.relu:
      x = nn.relu(x)
    if self.max_pool:
      x = nn.max_pool(x, (3, 3), (2, 2), padding=((1, 1), (1, 1)))
    return x


# torchvision's ImageNet stem (224 -> 56) and the official CIFAR stem (32 -> 32).
imagenet_stem = functools.partial(Stem, 64, 7, 2, max_pool=True)
cifar_stem = functools.partial(Stem, CIFAR_STEM_WIDTH, 3)


def make_stages(block: Callable[..., nn.Module], widths: Sequence[Sequence[int]]):
  """Builds the blocks `stage{k}_block{j}`; every stage after the first starts with stride 2.

  Args:
    block: constructor called as `block(planes, strides, name=...)`.
    widths: for each stage, the planes of each of its blocks.

  Returns:
    One list of blocks per stage.
  """
  return [
      [
          block(planes, 2 if k and not j else 1, name=f'stage{k + 1}_block{j + 1}')
          for j, planes in enumerate(stage)
      ]
      for k, stage in enumerate(widths)
  ]


def stages_with_mixing(
    x, train: bool, feature_mix: Optional[FeatureMix], stem: nn.Module, stages
) -> Tuple[jax.Array, jax.Array]:
  """Runs the stem and the stages, CutMixing the features at the boundary `feature_mix` chose.

  Boundary 0 is the input image, boundary k the output of stage k.

  Args:
    x: `(N, H, W, C)` images.
    train: whether BN uses batch statistics.
    feature_mix: the minibatch's request, or None for no mixing.
    stem: module called as `stem(x, train)`.
    stages: one sequence of blocks per stage, each called as `block(x, train)`.

  Returns:
    `(features (N, h, w, c), ratio)`: ratio is the partner's label weight, a float32 scalar
    (0 without mixing).

  Raises:
    ValueError: if `x` is not 4-D.
  """
  arguments.check_images(x)
  ratio = jnp.zeros((), jnp.float32)
  x, ratio = mix_at_stage(feature_mix, 0, x, ratio)
  x = stem(x, train)
  for k, blocks in enumerate(stages, start=1):
    for block in blocks:
      x = block(x, train)
    x, ratio = mix_at_stage(feature_mix, k, x, ratio)
  return x, ratio


def _torch_linear_init(fan_in: int):
  """PyTorch's default `nn.Linear` init of weight and bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
  limit = 1.0 / math.sqrt(fan_in)
  return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -limit, limit)


def classify(
    module: nn.Module, features, num_classes: int, ratio, feature_mix: Optional[FeatureMix]
):
  """Global average pooling and the float32 linear classifier `head`.

  Sows the float32 feature map as `intermediates/features`, so that class activation maps are
  `features @ head.kernel[:, c]`, and, when mixing features, the partner's label weight as
  `feature_mix/ratio` (`cutmix_jax.ops.feature_mix.sown_ratio` reads it).

  Args:
    module: the model, which owns the sown values and the head.
    features: `(N, h, w, c)` final feature map.
    num_classes: K.
    ratio: the partner's label weight from `stages_with_mixing`.
    feature_mix: the request, or None.

  Returns:
    float32 logits `(N, K)`.
  """
  features = features.astype(jnp.float32)
  module.sow('intermediates', 'features', features)
  if feature_mix is not None:
    module.sow(COLLECTION, 'ratio', ratio)
  init = _torch_linear_init(features.shape[-1])
  return nn.Dense(
      num_classes,
      dtype=jnp.float32,
      param_dtype=jnp.float32,
      kernel_init=init,
      bias_init=init,
      name='head',
  )(jnp.mean(features, axis=(1, 2)))
